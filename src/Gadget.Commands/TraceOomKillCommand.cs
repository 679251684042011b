using System.Management.Automation;

namespace Gadget.Commands;

/// <summary>Trace-GadgetOomKill: every process the out-of-memory killer kills, with its memory and the process that triggered the kill.</summary>
[Cmdlet(VerbsDiagnostic.Trace, "GadgetOomKill", DefaultParameterSetName = LocalParameterSet)]
[OutputType(typeof(OomKillEvent), typeof(TraceStatistics))]
public sealed class TraceOomKillCommand : TraceCommand
{
    private protected override string GadgetName => "oomkill";
}

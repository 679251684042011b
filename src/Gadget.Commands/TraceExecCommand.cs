using System.Management.Automation;
using Gadget.Tracing;

namespace Gadget.Commands;

/// <summary>Trace-GadgetExec: every new process.</summary>
[Cmdlet(VerbsDiagnostic.Trace, "GadgetExec", DefaultParameterSetName = LocalParameterSet)]
[OutputType(typeof(ExecEvent), typeof(TraceStatistics))]
public sealed class TraceExecCommand : TraceCommand
{
    /// <summary>Also report execs that failed (ENOENT, EACCES …). Costs a little on every syscall while tracing.</summary>
    [Parameter]
    public SwitchParameter IncludeFailed { get; set; }

    private protected override string GadgetName => "exec";

    private protected override void AddParameters(IDictionary<string, string> parameters)
    {
        if (IncludeFailed)
        {
            parameters["include-failed"] = "true";
        }
    }
}

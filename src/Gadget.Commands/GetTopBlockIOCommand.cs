using System.Management.Automation;

namespace Gadget.Commands;

/// <summary>Get-GadgetTopBlockIO: block I/O per process and device, per interval, the busiest first.</summary>
[Cmdlet(VerbsCommon.Get, "GadgetTopBlockIO", DefaultParameterSetName = LocalParameterSet)]
[OutputType(typeof(TopBlockIORow), typeof(TraceStatistics))]
public sealed class GetTopBlockIOCommand : TopCommand
{
    private protected override string GadgetName => "top_blockio";
}

using System.Management.Automation;

namespace Gadget.Commands;

/// <summary>Trace-GadgetMount: every mount and umount, with its source, target, file-system type, flags and result.</summary>
[Cmdlet(VerbsDiagnostic.Trace, "GadgetMount", DefaultParameterSetName = LocalParameterSet)]
[OutputType(typeof(MountEvent), typeof(TraceStatistics))]
public sealed class TraceMountCommand : TraceCommand
{
    /// <summary>Only calls that failed.</summary>
    [Parameter]
    public SwitchParameter Failed { get; set; }

    private protected override string GadgetName => "mount";

    private protected override void AddParameters(IDictionary<string, string> parameters)
    {
        if (Failed)
        {
            parameters["failed"] = "true";
        }
    }
}

using System.Management.Automation;

namespace Gadget.Commands;

/// <summary>Get-GadgetProcess: every process (or thread) at one moment, with its container, from a task iterator.</summary>
[Cmdlet(VerbsCommon.Get, "GadgetProcess", DefaultParameterSetName = LocalParameterSet)]
[OutputType(typeof(ProcessEntry))]
public sealed class GetGadgetProcessCommand : SnapshotCommand
{
    /// <summary>One row per thread instead of one per process.</summary>
    [Parameter]
    public SwitchParameter Threads { get; set; }

    private protected override string GadgetName => "process";

    private protected override void AddParameters(IDictionary<string, string> parameters)
    {
        if (Threads)
        {
            parameters["threads"] = "true";
        }
    }
}

using System.Management.Automation;

namespace Gadget.Commands;

/// <summary>Get-GadgetTopFile: reads and writes per process and file, per interval, the busiest first.</summary>
[Cmdlet(VerbsCommon.Get, "GadgetTopFile", DefaultParameterSetName = LocalParameterSet)]
[OutputType(typeof(TopFileRow), typeof(TraceStatistics))]
public sealed class GetTopFileCommand : TopCommand
{
    /// <summary>Count every kind of file (sockets, pipes, devices), not only regular files; checked in the kernel.</summary>
    [Parameter]
    public SwitchParameter AllFiles { get; set; }

    private protected override string GadgetName => "top_file";

    private protected override void AddParameters(IDictionary<string, string> parameters)
    {
        if (AllFiles)
        {
            parameters["all-files"] = "true";
        }
    }
}

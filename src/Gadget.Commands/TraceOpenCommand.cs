using System.Management.Automation;

namespace Gadget.Commands;

/// <summary>Trace-GadgetOpen: every file open.</summary>
[Cmdlet(VerbsDiagnostic.Trace, "GadgetOpen", DefaultParameterSetName = LocalParameterSet)]
[OutputType(typeof(OpenEvent), typeof(TraceStatistics))]
public sealed class TraceOpenCommand : TraceCommand
{
    /// <summary>Only opens of this absolute path (wildcards allowed), compared with the resolved path.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ValidateMatch("^/", ErrorMessage = "-Path must be an absolute path (it is compared with the resolved full path): {0}")]
    [SupportsWildcards]
    public string? Path { get; set; }

    /// <summary>Only opens that can read (Read), write (Write: O_WRONLY or O_RDWR) or both (ReadWrite).</summary>
    [Parameter]
    public FileAccess? Access { get; set; }

    /// <summary>Only opens that failed.</summary>
    [Parameter]
    public SwitchParameter Failed { get; set; }

    private protected override string GadgetName => "open";

    private protected override void AddParameters(IDictionary<string, string> parameters)
    {
        if (Path is not null)
        {
            parameters["path"] = Path;
        }

        if (Access is FileAccess access)
        {
            parameters["access"] = access.ToString().ToLowerInvariant();
        }

        if (Failed)
        {
            parameters["failed"] = "true";
        }
    }
}

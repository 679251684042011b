using System.Globalization;
using System.Management.Automation;

namespace Gadget.Commands;

/// <summary>Trace-GadgetCapabilities: every capability check, with the capability, the verdict and the system call.</summary>
[Cmdlet(VerbsDiagnostic.Trace, "GadgetCapabilities", DefaultParameterSetName = LocalParameterSet)]
[OutputType(typeof(CapabilitiesEvent), typeof(TraceStatistics))]
public sealed class TraceCapabilitiesCommand : TraceCommand
{
    /// <summary>Only checks of this capability (checked in the kernel), by name or number.</summary>
    [Parameter(Position = 0)]
    public Capability? Capability { get; set; }

    /// <summary>Only checks that refused the capability.</summary>
    [Parameter]
    public SwitchParameter Denied { get; set; }

    /// <summary>Each process's checks of a capability once per verdict (checked in the kernel).</summary>
    [Parameter]
    public SwitchParameter Unique { get; set; }

    private protected override string GadgetName => "capabilities";

    private protected override void AddParameters(IDictionary<string, string> parameters)
    {
        if (Capability is Capability capability)
        {
            parameters["capability"] = ((int)capability).ToString(CultureInfo.InvariantCulture);
        }

        if (Denied)
        {
            parameters["denied"] = "true";
        }

        if (Unique)
        {
            parameters["unique"] = "true";
        }
    }
}

using System.Globalization;
using System.Management.Automation;

namespace Gadget.Commands;

/// <summary>Trace-GadgetBind: every bind of an IPv4 or IPv6 socket, with its address, protocol, options and result.</summary>
[Cmdlet(VerbsDiagnostic.Trace, "GadgetBind", DefaultParameterSetName = LocalParameterSet)]
[OutputType(typeof(BindEvent), typeof(TraceStatistics))]
public sealed class TraceBindCommand : TraceCommand
{
    /// <summary>Only binds to this port (checked in the kernel).</summary>
    [Parameter(Position = 0)]
    [ValidateRange(1, 65535)]
    public int Port { get; set; }

    /// <summary>Only binds that failed.</summary>
    [Parameter]
    public SwitchParameter Failed { get; set; }

    private protected override string GadgetName => "bind";

    private protected override void AddParameters(IDictionary<string, string> parameters)
    {
        if (Port > 0)
        {
            parameters["port"] = Port.ToString(CultureInfo.InvariantCulture);
        }

        if (Failed)
        {
            parameters["failed"] = "true";
        }
    }
}

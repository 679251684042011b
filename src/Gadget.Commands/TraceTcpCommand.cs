using System.Globalization;
using System.Management.Automation;

namespace Gadget.Commands;

/// <summary>Trace-GadgetTcp: TCP connections as processes connect, accept and close them.</summary>
[Cmdlet(VerbsDiagnostic.Trace, "GadgetTcp", DefaultParameterSetName = LocalParameterSet)]
[OutputType(typeof(TcpEvent), typeof(TraceStatistics))]
public sealed class TraceTcpCommand : TraceCommand
{
    /// <summary>Only these types of event (checked in the kernel): Connect, Accept, Close.</summary>
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public TcpEventType[]? Type { get; set; }

    /// <summary>Only connections with this port at either end (checked in the kernel).</summary>
    [Parameter]
    [ValidateRange(1, 65535)]
    public int Port { get; set; }

    private protected override string GadgetName => "tcp";

    private protected override void AddParameters(IDictionary<string, string> parameters)
    {
        if (Type is { Length: > 0 })
        {
            parameters["types"] = Type.Aggregate(0, (mask, type) => mask | (1 << (int)type)).ToString(CultureInfo.InvariantCulture);
        }

        if (Port > 0)
        {
            parameters["port"] = Port.ToString(CultureInfo.InvariantCulture);
        }
    }
}

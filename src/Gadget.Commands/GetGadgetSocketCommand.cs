using System.Globalization;
using System.Management.Automation;

namespace Gadget.Commands;

/// <summary>Get-GadgetSocket: every TCP and UDP socket at one moment, with the process that holds it and its container.</summary>
[Cmdlet(VerbsCommon.Get, "GadgetSocket", DefaultParameterSetName = LocalParameterSet)]
[OutputType(typeof(SocketEntry))]
public sealed class GetGadgetSocketCommand : SnapshotCommand
{
    /// <summary>Only sockets of this protocol (checked in the kernel).</summary>
    [Parameter(Position = 0)]
    public SocketProtocol? Protocol { get; set; }

    /// <summary>Only sockets in these states (checked in the kernel).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public SocketState[]? State { get; set; }

    private protected override string GadgetName => "socket";

    private protected override void AddParameters(IDictionary<string, string> parameters)
    {
        if (Protocol is SocketProtocol protocol)
        {
            parameters["protocol"] = ((int)protocol).ToString(CultureInfo.InvariantCulture);
        }

        if (State is { Length: > 0 })
        {
            parameters["states"] = State.Aggregate(0u, (mask, state) => mask | (1u << (int)state)).ToString(CultureInfo.InvariantCulture);
        }
    }
}

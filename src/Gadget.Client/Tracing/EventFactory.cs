using Gadget.Protocol.V1;

namespace Gadget.Tracing;

/// <summary>Builds the typed event for a wire event, by its payload.</summary>
internal static class EventFactory
{
    public static GadgetEvent? Create(Event source, EventOrigin origin) => source.PayloadCase switch
    {
        Event.PayloadOneofCase.Exec => new ExecEvent(source, origin),
        Event.PayloadOneofCase.Open => new OpenEvent(source, origin),
        Event.PayloadOneofCase.Dns => new DnsEvent(source, origin),
        _ => null, // A newer agent's gadget this client does not know: skipped, not fatal.
    };
}

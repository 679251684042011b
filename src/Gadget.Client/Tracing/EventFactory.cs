using Gadget.Protocol.V1;

namespace Gadget.Tracing;

/// <summary>Builds the typed event for a wire event, by its payload.</summary>
internal static class EventFactory
{
    /// <summary>
    /// Event's fields from this number up are gadget payloads (the proto keeps the common fields
    /// below it), so the decoder needs no list of gadgets: this factory is the only one.
    /// </summary>
    public const int FirstPayloadField = Event.ExecFieldNumber;

    public static GadgetEvent? Create(in WireEvent source, EventOrigin origin) => source.PayloadField switch
    {
        Event.ExecFieldNumber => new ExecEvent(source, origin),
        Event.OpenFieldNumber => new OpenEvent(source, origin),
        Event.DnsFieldNumber => new DnsEvent(source, origin),
        _ => null, // A newer agent's gadget this client does not know: skipped, not fatal.
    };
}

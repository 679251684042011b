namespace Gadget.Tracing;

/// <summary>
/// One wire <c>Event</c>'s common fields, decoded, and its gadget payload still encoded: what an
/// event type's constructor reads. Absent fields keep proto3's defaults (0, "").
/// </summary>
internal ref struct WireEvent
{
    public long TimestampUnixNs;
    public uint Pid;
    public uint Tid;
    public uint Ppid;
    public uint Uid;
    public uint Gid;
    public string Comm;
    public ulong MntnsId;
    public ulong NetnsId;

    /// <summary>The payload's field number in <c>Event</c> (which gadget); 0 when there is none.</summary>
    public int PayloadField;

    /// <summary>The payload message's bytes.</summary>
    public ReadOnlySpan<byte> Payload;

    public WireEvent()
    {
        Comm = "";
    }
}

using System.Buffers;
using System.Runtime.CompilerServices;
using Gadget.Protocol.V1;
using Google.Protobuf;
using Grpc.Core;

namespace Gadget.Tracing;

/// <summary>
/// Decodes one trace stream's <c>TraceReply</c> messages straight into typed events, learning
/// the containers each batch announces. The wire is the generated contract's; only the reading
/// is by hand (see <see cref="WireReader"/> for why), so events never exist twice in memory.
/// </summary>
internal sealed class TraceReplyDecoder(EventOrigin origin)
{
    /// <summary>
    /// The Trace call with its replies left encoded: gRPC hands over their bytes and the session's
    /// decoder reads them, since a marshaller is shared by every call and cannot know the stream's
    /// containers.
    /// </summary>
    public static readonly Method<TraceRequest, TraceReplyBytes> TraceMethod = new(
        MethodType.ServerStreaming,
        GadgetAgent.Descriptor.FullName,
        "Trace",
        Marshallers.Create(request => request.ToByteArray(), TraceRequest.Parser.ParseFrom),
        Marshallers.Create<TraceReplyBytes>(
            (_, _) => throw new NotSupportedException("The client never sends a TraceReply."),
            TraceReplyBytes.CopyFrom));

    // Consecutive events mostly come from one process: reuse its name rather than decode it again.
    private byte[] _lastCommBytes = [];
    private string _lastComm = "";

    public TraceFrame Decode(ReadOnlySpan<byte> reply)
    {
        // A oneof: should several of its fields arrive, the last wins, as in every protobuf parser.
        TraceFrame frame = TraceFrame.Empty;
        var reader = new WireReader(reply);
        while (reader.TryReadTag(out int field, out WireType type))
        {
            switch (field)
            {
                case TraceReply.BatchFieldNumber when type == WireType.LengthDelimited:
                    frame = new TraceFrame(DecodeBatch(reader.ReadBytes()));
                    break;
                case TraceReply.CountersFieldNumber when type == WireType.LengthDelimited:
                    frame = new TraceFrame(new TraceStatistics(origin.Node, TraceCounters.Parser.ParseFrom(reader.ReadBytes())));
                    break;
                case TraceReply.NoticeFieldNumber when type == WireType.LengthDelimited:
                    Notice notice = Notice.Parser.ParseFrom(reader.ReadBytes());
                    frame = new TraceFrame(new TraceNotice(origin.Node, notice.Id, notice.Message));
                    break;
                default:
                    reader.Skip(type);
                    break;
            }
        }

        return frame;
    }

    /// <summary>The batch's events in chunks of at most <see cref="TraceSession.ChunkEvents"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private List<GadgetEvent[]> DecodeBatch(ReadOnlySpan<byte> batch)
    {
        // First pass: the containers (protobuf writes them after the events that refer to them)
        // and the number of events, so the chunks are allocated at their final size.
        int remaining = 0;
        var scan = new WireReader(batch);
        while (scan.TryReadTag(out int field, out WireType type))
        {
            if (field == EventBatch.EventsFieldNumber && type == WireType.LengthDelimited)
            {
                scan.ReadBytes();
                remaining++;
            }
            else if (field == EventBatch.ContainersFieldNumber && type == WireType.LengthDelimited)
            {
                origin.Learn(new GadgetContainer(ContainerInfo.Parser.ParseFrom(scan.ReadBytes()), origin.Node));
            }
            else
            {
                scan.Skip(type);
            }
        }

        var chunks = new List<GadgetEvent[]>((remaining + TraceSession.ChunkEvents - 1) / TraceSession.ChunkEvents);
        GadgetEvent[]? chunk = null;
        int filled = 0;
        var reader = new WireReader(batch);
        while (reader.TryReadTag(out int field, out WireType type))
        {
            if (field != EventBatch.EventsFieldNumber || type != WireType.LengthDelimited)
            {
                reader.Skip(type);
                continue;
            }

            chunk ??= new GadgetEvent[Math.Min(TraceSession.ChunkEvents, remaining)];
            remaining--;
            if (DecodeEvent(reader.ReadBytes()) is GadgetEvent typed)
            {
                chunk[filled++] = typed;
                if (filled == chunk.Length)
                {
                    chunks.Add(chunk);
                    chunk = null;
                    filled = 0;
                }
            }
        }

        if (filled > 0)
        {
            chunks.Add(chunk![..filled]); // events of a gadget this client does not know were left out
        }

        return chunks;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private GadgetEvent? DecodeEvent(ReadOnlySpan<byte> bytes)
    {
        var wire = new WireEvent();
        var reader = new WireReader(bytes);
        while (reader.TryReadTag(out int field, out WireType type))
        {
            switch (field)
            {
                case Event.TimestampUnixNsFieldNumber when type == WireType.Fixed64:
                    wire.TimestampUnixNs = (long)reader.ReadFixed64();
                    break;
                case Event.PidFieldNumber when type == WireType.Varint:
                    wire.Pid = reader.ReadUInt32();
                    break;
                case Event.TidFieldNumber when type == WireType.Varint:
                    wire.Tid = reader.ReadUInt32();
                    break;
                case Event.PpidFieldNumber when type == WireType.Varint:
                    wire.Ppid = reader.ReadUInt32();
                    break;
                case Event.UidFieldNumber when type == WireType.Varint:
                    wire.Uid = reader.ReadUInt32();
                    break;
                case Event.GidFieldNumber when type == WireType.Varint:
                    wire.Gid = reader.ReadUInt32();
                    break;
                case Event.CommFieldNumber when type == WireType.LengthDelimited:
                    wire.Comm = Comm(reader.ReadBytes());
                    break;
                case Event.MntnsIdFieldNumber when type == WireType.Fixed64:
                    wire.MntnsId = reader.ReadFixed64();
                    break;
                case Event.NetnsIdFieldNumber when type == WireType.Fixed64:
                    wire.NetnsId = reader.ReadFixed64();
                    break;
                case >= EventFactory.FirstPayloadField when type == WireType.LengthDelimited:
                    wire.PayloadField = field;
                    wire.Payload = reader.ReadBytes();
                    break;
                default:
                    reader.Skip(type);
                    break;
            }
        }

        return EventFactory.Create(wire, origin);
    }

    private string Comm(ReadOnlySpan<byte> bytes)
    {
        if (!bytes.SequenceEqual(_lastCommBytes))
        {
            _lastCommBytes = bytes.ToArray();
            _lastComm = System.Text.Encoding.UTF8.GetString(bytes);
        }

        return _lastComm;
    }
}

/// <summary>What one reply carried: a batch of events in chunks, the counters, or a notice.</summary>
internal sealed class TraceFrame
{
    public static readonly TraceFrame Empty = new(chunks: []);

    public TraceFrame(List<GadgetEvent[]> chunks) => Chunks = chunks;

    public TraceFrame(TraceStatistics statistics) => Statistics = statistics;

    public TraceFrame(TraceNotice notice) => Notice = notice;

    public IReadOnlyList<GadgetEvent[]> Chunks { get; } = [];

    public TraceStatistics? Statistics { get; }

    public TraceNotice? Notice { get; }
}

/// <summary>
/// A reply's bytes, copied out of gRPC's receive buffer (which it reuses) into a pooled array
/// that goes back to the pool once the reply is decoded.
/// </summary>
internal sealed class TraceReplyBytes : IDisposable
{
    private byte[]? _array;
    private readonly int _length;

    private TraceReplyBytes(byte[] array, int length)
    {
        _array = array;
        _length = length;
    }

    public ReadOnlySpan<byte> Span => _array.AsSpan(0, _length);

    public static TraceReplyBytes CopyFrom(DeserializationContext context)
    {
        ReadOnlySequence<byte> payload = context.PayloadAsReadOnlySequence();
        byte[] array = ArrayPool<byte>.Shared.Rent((int)payload.Length);
        payload.CopyTo(array);
        return new TraceReplyBytes(array, (int)payload.Length);
    }

    public void Dispose()
    {
        if (_array is not null)
        {
            ArrayPool<byte>.Shared.Return(_array);
            _array = null;
        }
    }
}

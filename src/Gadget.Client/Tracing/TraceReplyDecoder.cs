using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using Gadget.Schema;
using EventSchema = Gadget.Protocol.V1.EventSchema;
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

    /// <summary>The version of the contract this client speaks (see gadget.proto).</summary>
    public const uint ProtocolVersion = 2;

    private EventMaker? _maker;

    // Where each of a row's variable parts starts and how long it is, reused from row to row.
    private int[] _variables = [];

    // A top's main figure in its rows; missing for a trace.
    private FieldRef _sortBy = FieldRef.Missing;

    /// <summary>The trace's schema, once the agent has sent it.</summary>
    public TraceSchema? Schema => _maker?.Binding.Schema;

    public TraceFrame Decode(ReadOnlySpan<byte> reply)
    {
        // A oneof: should several of its fields arrive, the last wins, as in every protobuf parser.
        TraceFrame frame = TraceFrame.Empty;
        var reader = new WireReader(reply);
        while (reader.TryReadTag(out int field, out WireType type))
        {
            switch (field)
            {
                case TraceReply.SchemaFieldNumber when type == WireType.LengthDelimited:
                    EventSchema schema = EventSchema.Parser.ParseFrom(reader.ReadBytes());
                    _maker = EventTypes.MakerFor(SchemaMessage.Read(schema), schema.BootTimeUnixNs);
                    _variables = new int[_maker.Binding.Schema.VariableCount * 2];
                    _sortBy = _maker.Binding.Schema.SortBy is string sortBy ? FieldRef.To(_maker.Binding.Schema.Field(sortBy)) : FieldRef.Missing;
                    frame = TraceFrame.Empty;
                    break;
                case TraceReply.BatchFieldNumber when type == WireType.LengthDelimited:
                    frame = DecodeBatch(reader.ReadBytes(), RequireSchema());
                    break;
                case TraceReply.CountersFieldNumber when type == WireType.LengthDelimited:
                    RequireSchema();
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

    /// <summary>An agent of protocol 2 sends the schema first; one of protocol 1 starts with its counters.</summary>
    private EventMaker RequireSchema() => _maker ?? throw new GadgetException(GadgetErrorId.ProtocolMismatch, GadgetErrorKind.NotSupported,
        $"The agent{(string.IsNullOrEmpty(origin.Node) ? string.Empty : " on " + origin.Node)} speaks Gadget protocol 1: it sent events without a schema. This client speaks protocol {ProtocolVersion}.")
    {
        RecommendedAction = "Use a client and an agent of the same Gadget version (Get-GadgetVersion shows both).",
    };

    /// <summary>The batch's events in chunks of at most <see cref="TraceSession.ChunkEvents"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private TraceFrame DecodeBatch(ReadOnlySpan<byte> batch, EventMaker maker)
    {
        // The containers first (protobuf writes them after the rows that refer to them).
        ReadOnlySpan<byte> rows = [];
        int count = 0;
        TopWindow? window = null;
        var reader = new WireReader(batch);
        while (reader.TryReadTag(out int field, out WireType type))
        {
            switch (field)
            {
                case EventBatch.ContainersFieldNumber when type == WireType.LengthDelimited:
                    origin.Learn(new GadgetContainer(ContainerInfo.Parser.ParseFrom(reader.ReadBytes()), origin.Node));
                    break;
                case EventBatch.RowsFieldNumber when type == WireType.LengthDelimited:
                    rows = reader.ReadBytes();
                    break;
                case EventBatch.RowCountFieldNumber when type == WireType.Varint:
                    count = (int)Math.Min(reader.ReadUInt32(), (uint)(rows.Length + batch.Length));
                    break;
                case EventBatch.WindowFieldNumber when type == WireType.LengthDelimited:
                    window = TopWindow.Parser.ParseFrom(reader.ReadBytes());
                    break;
                default:
                    reader.Skip(type);
                    break;
            }
        }

        if (window is not null)
        {
            return new TraceFrame(DecodeWindow(rows, window, maker));
        }

        var chunks = new List<GadgetEvent[]>((count + TraceSession.ChunkEvents - 1) / TraceSession.ChunkEvents);
        GadgetEvent[]? chunk = null;
        int filled = 0;
        int remaining = count;
        while (!rows.IsEmpty)
        {
            if (rows.Length < sizeof(uint) || BinaryPrimitives.ReadUInt32LittleEndian(rows) is var length && length > (uint)(rows.Length - sizeof(uint)))
            {
                throw new InvalidDataException("The agent sent a malformed message: a row runs past the end of its batch.");
            }

            ReadOnlySpan<byte> row = rows.Slice(sizeof(uint), (int)length);
            rows = rows[(sizeof(uint) + (int)length)..];
            chunk ??= new GadgetEvent[Math.Clamp(remaining, 1, TraceSession.ChunkEvents)];
            remaining--;
            chunk[filled++] = maker.Make(Locate(row, maker.Binding.Schema.FixedSize, maker), origin);
            if (filled == chunk.Length)
            {
                chunks.Add(chunk);
                chunk = null;
                filled = 0;
            }
        }

        if (filled > 0)
        {
            chunks.Add(chunk![..filled]); // the batch held more rows than it said
        }

        return new TraceFrame(chunks);
    }

    /// <summary>A top's window: all its rows as one item, each with its main figure and the window's times.</summary>
    private TopWindowRows DecodeWindow(ReadOnlySpan<byte> rows, TopWindow window, EventMaker maker)
    {
        DateTime start = FromUnixNs(window.StartUnixNs);
        DateTime end = FromUnixNs(window.EndUnixNs);
        var events = new List<GadgetEvent>();
        var values = new List<Int128>();
        while (!rows.IsEmpty)
        {
            ReadOnlySpan<byte> row = NextRow(ref rows);
            EventRow located = Locate(row, maker.Binding.Schema.FixedSize, maker);
            values.Add(_sortBy.Signed ? located.Int64(_sortBy) : located.UInt64(_sortBy));
            GadgetEvent made = maker.Make(located, origin);
            if (made is GadgetTopRow topRow)
            {
                topRow.SetWindow(start, end);
            }

            events.Add(made);
        }

        return new TopWindowRows(origin.Node, window.Index, start, end, [.. events], [.. values]);
    }

    private static DateTime FromUnixNs(long unixNs)
        => DateTime.UnixEpoch.AddTicks(Math.Clamp(unixNs / 100, 0, DateTime.MaxValue.Ticks - DateTime.UnixEpoch.Ticks)).ToLocalTime();

    private static ReadOnlySpan<byte> NextRow(ref ReadOnlySpan<byte> rows)
    {
        if (rows.Length < sizeof(uint) || BinaryPrimitives.ReadUInt32LittleEndian(rows) is var length && length > (uint)(rows.Length - sizeof(uint)))
        {
            throw new InvalidDataException("The agent sent a malformed message: a row runs past the end of its batch.");
        }

        ReadOnlySpan<byte> row = rows.Slice(sizeof(uint), (int)length);
        rows = rows[(sizeof(uint) + (int)length)..];
        return row;
    }

    private EventRow Locate(ReadOnlySpan<byte> row, int fixedSize, EventMaker maker)
    {
        if (row.Length < fixedSize)
        {
            throw new InvalidDataException($"The agent sent a malformed message: a row of {row.Length} bytes is shorter than its fixed block ({fixedSize}).");
        }

        var parts = new WireReader(row[fixedSize..]);
        int position = fixedSize;
        for (int i = 0; i < _variables.Length; i += 2)
        {
            ReadOnlySpan<byte> part = parts.ReadBytes();
            _variables[i] = position + VarintLength(part.Length);
            _variables[i + 1] = part.Length;
            position = _variables[i] + part.Length;
        }

        return new EventRow(row, _variables, maker.Binding);
    }

    private static int VarintLength(int value) => (BitOperations.Log2((uint)value | 1) / 7) + 1;
}

/// <summary>What one reply carried: a batch of events in chunks, the counters, or a notice.</summary>
internal sealed class TraceFrame
{
    public static readonly TraceFrame Empty = new(chunks: []);

    public TraceFrame(List<GadgetEvent[]> chunks) => Chunks = chunks;

    public TraceFrame(TraceStatistics statistics) => Statistics = statistics;

    public TraceFrame(TraceNotice notice) => Notice = notice;

    public TraceFrame(TopWindowRows window) => Window = window;

    public IReadOnlyList<GadgetEvent[]> Chunks { get; } = [];

    public TraceStatistics? Statistics { get; }

    public TraceNotice? Notice { get; }

    /// <summary>A top's window, whole.</summary>
    public TopWindowRows? Window { get; }
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

using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Gadget.Agent.Decoding;
using Gadget.Agent.Gadgets;
using Gadget.Bpf;
using Gadget.Protocol.V1;
using Gadget.Schema;
using Gadget.Tracing;
using Google.Protobuf;
using Xunit;
using AgentSchemaMessage = Gadget.Agent.Services.SchemaMessage;

namespace Gadget.Tests.Gadgets;

/// <summary>The gadgets the agent carries, by name.</summary>
internal static class TestGadgets
{
    public static GadgetDefinition Get(string name)
        => GadgetCatalog.Default.TryGet(name, out GadgetDefinition gadget) ? gadget : throw new InvalidOperationException($"The agent carries no gadget '{name}'.");
}

/// <summary>
/// A ring record of one gadget, laid out by its event struct's BTF as the program writes it: every
/// offset and size comes from the compiled object, none is written here.
/// </summary>
internal sealed class RecordBuilder
{
    private readonly GadgetDefinition _gadget;
    private readonly byte[] _bytes;
    private int _length;

    public RecordBuilder(GadgetDefinition gadget)
    {
        _gadget = gadget;
        _bytes = new byte[gadget.Record.Size];
        _length = gadget.Record.Size;
    }

    /// <summary>Each object's BTF, parsed once: the catalog re-reads an object for every trace, and a test builds thousands of records.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Btf> ObjectBtf = new();

    /// <summary>A field of the flattened event struct (<c>proc.pid</c>), as the schema reader sees it.</summary>
    public FieldSchema Field(string path)
        => _gadget.Record.Find(path) ?? throw new InvalidOperationException($"struct {_gadget.Record.StructName} has no field '{path}'.");

    /// <summary>Where a member sits, including the ones the schema leaves out (<c>__data</c>), from the object's BTF.</summary>
    public (int Offset, int Size) Member(string name)
    {
        Btf btf = ObjectBtf.GetOrAdd(_gadget.Name, _ => _gadget.ReadObjectInfo().Btf);
        if (_gadget.Top is MapIteratorInfo top)
        {
            // A top's record is its map's key, then its value: a member of either.
            string[] structs = top.Record.StructName.Split(" + ");
            foreach ((string structName, int start) in new[] { (structs[0], 0), (structs[^1], top.KeySize) })
            {
                if (btf.TryFindType(structName, BtfKind.Struct, out BtfType? part) && part.Members.SingleOrDefault(m => m.Name == name) is { } found)
                {
                    return (start + (found.BitOffset / 8), btf.SizeOf(found.Type));
                }
            }

            throw new InvalidOperationException($"Neither struct of {top.Record.StructName} has a member '{name}'.");
        }

        if (!btf.TryFindType(_gadget.Record.StructName, BtfKind.Struct, out BtfType? type))
        {
            throw new InvalidOperationException($"The {_gadget.Name} object has no struct {_gadget.Record.StructName}.");
        }

        Gadget.Schema.BtfMember member = type.Members.SingleOrDefault(m => m.Name == name)
            ?? throw new InvalidOperationException($"struct {type.Name} has no member '{name}'.");
        return (member.BitOffset / 8, btf.SizeOf(member.Type));
    }

    public RecordBuilder Set(string path, long value) => SetInteger(Field(path).Offset, Field(path).Size, value);

    public RecordBuilder SetMember(string name, long value)
    {
        (int offset, int size) = Member(name);
        return SetInteger(offset, size, value);
    }

    /// <summary>A NUL-terminated string (cut to fit its array, as the kernel's string reads do).</summary>
    public RecordBuilder SetString(string path, string value)
    {
        FieldSchema field = Field(path);
        return SetBytes(field.Offset, field.Size, Encoding.UTF8.GetBytes(value).AsSpan(0, Math.Min(Encoding.UTF8.GetByteCount(value), field.Size - 1)));
    }

    /// <summary>Raw bytes into a field or member, which must hold them.</summary>
    public RecordBuilder SetBytes(string pathOrMember, ReadOnlySpan<byte> value)
    {
        (int offset, int size) = _gadget.Record.Find(pathOrMember) is FieldSchema field ? (field.Offset, field.Size) : Member(pathOrMember);
        return SetBytes(offset, size, value);
    }

    /// <summary>An endpoint struct (gadget_l3endpoint_t, gadget_l4endpoint_t) by the layout its BTF gives.</summary>
    public RecordBuilder SetEndpoint(string path, IPAddress address, ushort port = 0, int protocol = 0)
    {
        FieldSchema field = Field(path);
        EndpointLayout layout = field.Endpoint ?? throw new InvalidOperationException($"Field '{path}' is not an endpoint.");
        Span<byte> target = _bytes.AsSpan(field.Offset, field.Size);
        target.Clear();
        address.GetAddressBytes().CopyTo(target[layout.AddressOffset..]);
        target[layout.VersionOffset] = address.AddressFamily == AddressFamily.InterNetworkV6 ? (byte)6 : (byte)4;
        if (layout.PortOffset is int portOffset)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(target[portOffset..], port);
        }

        if (layout.ProtoOffset is int protoOffset)
        {
            target[protoOffset] = (byte)protocol;
        }

        return this;
    }

    /// <summary>Ends the record <paramref name="used"/> bytes into its last member, as a program that sends only the used part of its tail.</summary>
    public RecordBuilder EndInTail(int used)
    {
        int tail = _gadget.Record.MinimumRecordSize;
        if (tail == _gadget.Record.Size)
        {
            throw new InvalidOperationException($"struct {_gadget.Record.StructName} has no variable-length tail.");
        }

        _length = tail + used;
        return this;
    }

    public byte[] Build() => _bytes[.._length];

    private RecordBuilder SetInteger(int offset, int size, long value)
    {
        Span<byte> target = _bytes.AsSpan(offset, size);
        switch (size)
        {
            case 1:
                target[0] = (byte)value;
                break;
            case 2:
                BinaryPrimitives.WriteInt16LittleEndian(target, (short)value);
                break;
            case 4:
                BinaryPrimitives.WriteInt32LittleEndian(target, (int)value);
                break;
            case 8:
                BinaryPrimitives.WriteInt64LittleEndian(target, value);
                break;
            default:
                throw new InvalidOperationException($"No integer of {size} bytes.");
        }

        return this;
    }

    private RecordBuilder SetBytes(int offset, int size, ReadOnlySpan<byte> value)
    {
        if (value.Length > size)
        {
            throw new InvalidOperationException($"{value.Length} bytes do not fit a member of {size}.");
        }

        _bytes.AsSpan(offset, size).Clear();
        value.CopyTo(_bytes.AsSpan(offset));
        return this;
    }
}

/// <summary>
/// The agent's decoding of one trace without the kernel: the generic decoder, then the gadget's hook
/// (made from the real object), into a row batch, as the ring's poll thread does.
/// </summary>
internal sealed class AgentRows
{
    private readonly RecordDecoder _decoder;

    public AgentRows(GadgetDefinition gadget, TraceRequest? request = null)
    {
        Gadget = gadget;
        _decoder = new RecordDecoder(gadget.Schema, gadget.Record.MinimumRecordSize);
        if (gadget.Hook is GadgetHook hook)
        {
            // Opening an object only parses it: no privilege needed, nothing loaded.
            using BpfObject bpf = BpfObject.Open(gadget.Program, gadget.Name);
            Hook = hook.CreateRecordHook(request ?? new TraceRequest { Gadget = gadget.Name }, gadget.Schema, bpf);
        }
    }

    public GadgetDefinition Gadget { get; }

    public TraceSchema Schema => Gadget.Schema;

    public RecordHook? Hook { get; }

    public RowBatch Batch { get; } = new();

    /// <summary>Decodes a record into the batch: true when it became a row, false when the hook filtered it out. Throws <see cref="MalformedRecordException"/>.</summary>
    public bool Add(ReadOnlySpan<byte> record)
    {
        RowWriter row = Batch.Begin(Schema.FixedSize);
        try
        {
            _decoder.Decode(record, row);
            if (Hook is not null && !Hook.Complete(record, row))
            {
                row.Rollback();
                return false;
            }
        }
        catch
        {
            row.Rollback();
            throw;
        }

        row.Commit();
        return true;
    }

    /// <summary>The rows the hook makes itself that are due at <paramref name="nowBootNs"/>, added to the batch.</summary>
    public int Tick(ulong nowBootNs)
    {
        var due = new List<byte[]>();
        Hook?.Tick(nowBootNs, due);
        foreach (byte[] row in due)
        {
            Batch.Append(row);
        }

        return due.Count;
    }

    /// <summary>The end of a trace at <paramref name="nowBootNs"/>: the rows the hook then makes, and whether it still waits.</summary>
    public (int Rows, bool Waiting) Settle(ulong nowBootNs)
    {
        var due = new List<byte[]>();
        bool waiting = Hook?.Settle(nowBootNs, due) ?? false;
        foreach (byte[] row in due)
        {
            Batch.Append(row);
        }

        return (due.Count, waiting);
    }

    /// <summary>The batch as a client reads it: schema first, then the batch, through the wire.</summary>
    public GadgetEvent[] ToEvents(EventOrigin? origin = null) => ClientRows.Decode(Schema, Batch, origin);

    public T Single<T>(ReadOnlySpan<byte> record)
        where T : GadgetEvent
    {
        Batch.Reset();
        if (!Add(record))
        {
            throw new InvalidOperationException($"The {Gadget.Name} hook filtered the record out.");
        }

        GadgetEvent e = ToEvents().Single();
        return e as T ?? throw new InvalidOperationException($"A {Gadget.Name} row became a {e.GetType().Name}, not a {typeof(T).Name}.");
    }
}

/// <summary>The client's side: the replies a stream carries, as bytes, read by the client's decoder.</summary>
internal static class ClientRows
{
    public const string Node = "node-1";

    /// <summary>The boot time the tests' schemas announce: timestamps are nanoseconds after it.</summary>
    public const long BootTimeUnixNs = 1_764_000_000_000_000_000;

    public static byte[] SchemaReply(TraceSchema schema, long bootTimeUnixNs = BootTimeUnixNs)
        => new TraceReply { Schema = AgentSchemaMessage.Create(schema, bootTimeUnixNs) }.ToByteArray();

    public static byte[] BatchReply(RowBatch batch) => new TraceReply { Batch = batch.ToMessage() }.ToByteArray();

    public static GadgetEvent[] Decode(TraceSchema schema, RowBatch batch, EventOrigin? origin = null)
    {
        var decoder = new TraceReplyDecoder(origin ?? new EventOrigin(Node));
        Assert.Empty(decoder.Decode(SchemaReply(schema)).Chunks);
        return Events(decoder, BatchReply(batch));
    }

    public static GadgetEvent[] Events(TraceReplyDecoder decoder, byte[] reply) => [.. decoder.Decode(reply).Chunks.SelectMany(c => c)];

    /// <summary>When the client says a boot-clock timestamp happened.</summary>
    public static DateTime Time(ulong bootNs) => DateTime.UnixEpoch.AddTicks((long)((bootNs + BootTimeUnixNs) / 100)).ToLocalTime();
}

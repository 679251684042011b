using System.Buffers.Binary;
using System.Net;
using System.Text;
using Gadget.Agent.Decoding;
using Gadget.Schema;
using Gadget.Tests.Gadgets;
using Xunit;

namespace Gadget.Tests.Client;

/// <summary>
/// A trace whose schema names no type the client has (a user's program, a newer agent's gadget)
/// still arrives: as a <see cref="GadgetRecord"/> with every field decoded by its kind and
/// well-known type, after the schema travelled through the agent's message and the client's reader.
/// </summary>
public sealed class GadgetRecordTests
{
    private const ulong BootNs = 90_000_000_123;

    [Theory]
    [InlineData(null)]
    [InlineData("FutureEvent")] // a type a newer client would have
    public void EveryKindOfFieldIsDecoded(string? typeName)
    {
        var layout = new Layout();
        layout.Fixed("flag", FieldKind.Bool, 1, write: b => b[0] = 1);
        layout.Fixed("u8", FieldKind.Int, 1, write: b => b[0] = 0xfe);
        layout.Fixed("s16", FieldKind.Int, 2, signed: true, write: b => BinaryPrimitives.WriteInt16LittleEndian(b, -2));
        layout.Fixed("s32", FieldKind.Int, 4, signed: true, write: b => BinaryPrimitives.WriteInt32LittleEndian(b, -70_000));
        layout.Fixed("u64", FieldKind.Int, 8, write: b => BinaryPrimitives.WriteUInt64LittleEndian(b, ulong.MaxValue - 1));
        layout.Fixed("when", FieldKind.Int, 8, WellKnownType.Timestamp, write: b => BinaryPrimitives.WriteUInt64LittleEndian(b, BootNs));
        layout.Fixed("took", FieldKind.Int, 8, WellKnownType.Duration, write: b => BinaryPrimitives.WriteUInt64LittleEndian(b, 1_500_000));
        layout.Fixed("err", FieldKind.Int, 4, WellKnownType.Errno, write: b => BinaryPrimitives.WriteInt32LittleEndian(b, 2));
        layout.Fixed("sig", FieldKind.Int, 4, WellKnownType.Signal, write: b => BinaryPrimitives.WriteInt32LittleEndian(b, 9));
        layout.Fixed("oflags", FieldKind.Int, 4, WellKnownType.FileFlags, write: b => BinaryPrimitives.WriteUInt32LittleEndian(b, 0x241));
        layout.Fixed("state", FieldKind.Enum, 4, members: [("IDLE", 0), ("BUSY", 1)], write: b => BinaryPrimitives.WriteInt32LittleEndian(b, 1));
        layout.Fixed("odd_state", FieldKind.Enum, 4, members: [("IDLE", 0), ("BUSY", 1)], write: b => BinaryPrimitives.WriteInt32LittleEndian(b, 7));
        layout.Fixed("ratio", FieldKind.Float, 8, write: b => BinaryPrimitives.WriteDoubleLittleEndian(b, 0.25));
        layout.Fixed("ratio32", FieldKind.Float, 4, write: b => BinaryPrimitives.WriteSingleLittleEndian(b, -1.5f));
        layout.Fixed("peer", FieldKind.L3Endpoint, TraceSchema.L3EndpointSize, write: b => Endpoint(b, IPAddress.Parse("2001:db8::9"), null));
        layout.Fixed("conn", FieldKind.L4Endpoint, TraceSchema.L4EndpointSize, write: b => Endpoint(b, IPAddress.Parse("192.0.2.9"), 8080));
        layout.Fixed("ptr", FieldKind.Pointer, 8, write: b => BinaryPrimitives.WriteUInt64LittleEndian(b, 0xffff_8880_0000_1000));
        layout.Fixed("proc.pid", FieldKind.Int, 4, WellKnownType.Pid, write: b => BinaryPrimitives.WriteUInt32LittleEndian(b, 4242));
        layout.Variable("proc.comm", FieldKind.String, "worker"u8.ToArray(), WellKnownType.Comm);
        layout.Variable("name", FieldKind.String, Encoding.UTF8.GetBytes("n\u00e4me"));
        layout.Variable("argv", FieldKind.StringList, "a\0\0b\0"u8.ToArray());
        layout.Variable("blob", FieldKind.Bytes, [0, 1, 2, 0xff]);
        layout.Variable("answers", FieldKind.AddressList, [4, 10, 0, 0, 1, 16, .. IPAddress.Parse("fd00::1").GetAddressBytes()]);
        var schema = new TraceSchema("custom", typeName, "A user's program.", layout.Fields);

        GadgetRecord record = Assert.IsType<GadgetRecord>(Assert.Single(ClientRows.Decode(schema, layout.Rows(schema))));

        Assert.Equal("custom", record.Gadget);
        Assert.Equal(4242, record.Pid);
        Assert.Equal("worker", record.Comm);
        Assert.Equal(ClientRows.Time(BootNs), record.Timestamp);
        Assert.Equal(schema.Fields.Select(f => f.Name), record.Fields.Select(f => f.Key));
        Dictionary<string, object?> values = record.Fields.ToDictionary(f => f.Key, f => f.Value);
        Assert.Equal(true, values["flag"]);
        Assert.Equal(0xfeul, values["u8"]);
        Assert.Equal(-2L, values["s16"]);
        Assert.Equal(-70_000L, values["s32"]);
        Assert.Equal(ulong.MaxValue - 1, values["u64"]);
        Assert.Equal(ClientRows.Time(BootNs), values["when"]);
        Assert.Equal(TimeSpan.FromTicks(15_000), values["took"]);
        Assert.Equal(Errno.ENOENT, values["err"]);
        Assert.Equal(Signal.SIGKILL, values["sig"]);
        Assert.Equal(OpenFlags.O_WRONLY | OpenFlags.O_CREAT | OpenFlags.O_TRUNC, values["oflags"]);
        Assert.Equal("BUSY", values["state"]);
        Assert.Equal(7L, values["odd_state"]); // a value without a name stays a number
        Assert.Equal(0.25, values["ratio"]);
        Assert.Equal(-1.5, values["ratio32"]);
        Assert.Equal(IPAddress.Parse("2001:db8::9"), values["peer"]);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.0.2.9"), 8080), values["conn"]);
        Assert.Equal(0xffff_8880_0000_1000ul, values["ptr"]);
        Assert.Equal(4242ul, values["proc.pid"]);
        Assert.Equal("worker", values["proc.comm"]);
        Assert.Equal("n\u00e4me", values["name"]);
        Assert.Equal(["a", "", "b"], Assert.IsType<ArgumentList>(values["argv"]));
        Assert.Equal([0, 1, 2, 0xff], Assert.IsType<byte[]>(values["blob"]));
        Assert.Equal([IPAddress.Parse("10.0.0.1"), IPAddress.Parse("fd00::1")], Assert.IsType<IPAddressList>(values["answers"]));
    }

    [Fact]
    public void AnEndpointOfNoKnownVersionHasNoAddress()
    {
        var layout = new Layout();
        layout.Fixed("conn", FieldKind.L4Endpoint, TraceSchema.L4EndpointSize, write: b => b[20] = 0);
        var schema = new TraceSchema("custom", null, string.Empty, layout.Fields);

        GadgetRecord record = Assert.IsType<GadgetRecord>(Assert.Single(ClientRows.Decode(schema, layout.Rows(schema))));

        Assert.Equal(new IPEndPoint(IPAddress.None, 0), Assert.Single(record.Fields).Value);
    }

    [Fact]
    public void AnAddressListOfAnotherLengthIsMalformed()
    {
        var layout = new Layout();
        layout.Variable("answers", FieldKind.AddressList, [3, 1, 2, 3]);
        var schema = new TraceSchema("custom", null, string.Empty, layout.Fields);

        Assert.Throws<InvalidDataException>(() => ClientRows.Decode(schema, layout.Rows(schema)));
    }

    /// <summary>Writes [addr 16][port u16][proto u16][version u8] (L4) or [addr 16][version u8] (L3): the row's endpoint layout.</summary>
    private static void Endpoint(Span<byte> target, IPAddress address, ushort? port)
    {
        address.GetAddressBytes().CopyTo(target);
        byte version = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? (byte)6 : (byte)4;
        if (port is ushort value)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(target[16..], value);
            BinaryPrimitives.WriteUInt16LittleEndian(target[18..], 6);
            target[20] = version;
        }
        else
        {
            target[16] = version;
        }
    }

    /// <summary>A schema made field by field, and one row of it.</summary>
    private sealed class Layout
    {
        private readonly List<(SchemaField Field, SpanAction? Write, byte[]? Value)> _fields = [];
        private int _offset;
        private int _variables;

        public delegate void SpanAction(Span<byte> target);

        public IReadOnlyList<SchemaField> Fields => [.. _fields.Select(f => f.Field)];

        public void Fixed(string name, FieldKind kind, int size, WellKnownType wellKnown = WellKnownType.None, bool signed = false, (string, long)[]? members = null, SpanAction? write = null)
        {
            _fields.Add((new SchemaField(name, kind, wellKnown, size, _offset, -1, signed, kind.ToString(), members ?? [], null, null), write, null));
            _offset += size;
        }

        public void Variable(string name, FieldKind kind, byte[] value, WellKnownType wellKnown = WellKnownType.None)
            => _fields.Add((new SchemaField(name, kind, wellKnown, 0, -1, _variables++, false, kind.ToString(), [], null, null), null, value));

        public RowBatch Rows(TraceSchema schema)
        {
            var batch = new RowBatch();
            RowWriter row = batch.Begin(schema.FixedSize);
            foreach ((SchemaField field, SpanAction? write, _) in _fields.Where(f => f.Field.IsFixed))
            {
                write?.Invoke(row.Fixed.Slice(field.Offset, field.Size));
            }

            foreach ((_, _, byte[]? value) in _fields.Where(f => !f.Field.IsFixed).OrderBy(f => f.Field.VariableIndex))
            {
                row.AppendVariable(value);
            }

            row.Commit();
            return batch;
        }
    }
}

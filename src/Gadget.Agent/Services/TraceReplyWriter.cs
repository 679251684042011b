using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Text;
using Gadget.Protocol.V1;
using Google.Protobuf;
using Grpc.Core;

namespace Gadget.Agent.Services;

/// <summary>
/// Writes the Trace stream's event batches in protobuf's wire format, byte for byte what
/// Google.Protobuf writes, measuring each event and each string once.
/// </summary>
/// <remarks>
/// Google.Protobuf does not remember sizes: writing reply → batch → event → payload measures a
/// payload's strings once per level, four UTF-16 → UTF-8 passes before the one that encodes, and
/// that was a quarter of the agent's samples in a 500 k/s flood. Counters, notices and containers
/// are rare and keep the generated code.
/// </remarks>
internal sealed class TraceReplyWriter
{
    /// <summary>The Trace method's reply marshaller: this writer out; the generated parser in, which a server never uses.</summary>
    public static readonly Marshaller<TraceReply> Marshaller = Marshallers.Create<TraceReply>(
        (reply, context) => new TraceReplyWriter().Write(reply, context),
        context => TraceReply.Parser.ParseFrom(context.PayloadAsReadOnlySequence()));

    private const int VarintType = 0;
    private const int Fixed64Type = 1;
    private const int LengthDelimitedType = 2;

    // What the measuring pass found, taken in the same order by the writing pass: the batch's
    // length, then for each event its length, its comm's UTF-8 length, its payload's length and
    // its payload's strings' UTF-8 lengths.
    private readonly List<int> _sizes = [];
    private int _nextSize;

    /// <summary>The reply's bytes in one array (the marshaller writes them in pieces).</summary>
    public static byte[] ToByteArray(TraceReply reply)
    {
        if (reply.KindCase != TraceReply.KindOneofCase.Batch)
        {
            return reply.ToByteArray();
        }

        var writer = new TraceReplyWriter();
        var buffer = new ArrayBufferWriter<byte>();
        writer.MeasureBatchReply(reply.Batch);
        writer.WriteBatchReply(reply.Batch, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    private void Write(TraceReply reply, SerializationContext context)
    {
        if (reply.KindCase != TraceReply.KindOneofCase.Batch)
        {
            context.SetPayloadLength(reply.CalculateSize());
            reply.WriteTo(context.GetBufferWriter());
            context.Complete();
            return;
        }

        context.SetPayloadLength(MeasureBatchReply(reply.Batch));
        WriteBatchReply(reply.Batch, context.GetBufferWriter());
        context.Complete();
    }

    /// <summary>The length of a reply carrying <paramref name="batch"/>; remembers what writing it needs.</summary>
    private int MeasureBatchReply(EventBatch batch)
    {
        _sizes.Clear();
        _sizes.Add(0);
        int batchLength = Measure(batch);
        _sizes[0] = batchLength;
        return Tag(TraceReply.BatchFieldNumber) + VarintSize((uint)batchLength) + batchLength;
    }

    private void WriteBatchReply(EventBatch batch, IBufferWriter<byte> output)
    {
        _nextSize = 0;
        var header = new WireWriter(output.GetSpan(16));
        header.Tag(TraceReply.BatchFieldNumber, LengthDelimitedType);
        header.Varint((uint)_sizes[_nextSize++]);
        output.Advance(header.Written);

        for (int i = 0; i < batch.Events.Count; i++)
        {
            Event wire = batch.Events[i];
            int eventLength = _sizes[_nextSize++];
            int total = Tag(EventBatch.EventsFieldNumber) + VarintSize((uint)eventLength) + eventLength;
            var writer = new WireWriter(output.GetSpan(total));
            writer.Tag(EventBatch.EventsFieldNumber, LengthDelimitedType);
            writer.Varint((uint)eventLength);
            WriteEvent(ref writer, wire);
            output.Advance(total);
        }

        foreach (ContainerInfo container in batch.Containers)
        {
            int containerLength = container.CalculateSize();
            int total = Tag(EventBatch.ContainersFieldNumber) + VarintSize((uint)containerLength) + containerLength;
            Span<byte> span = output.GetSpan(total);
            var writer = new WireWriter(span);
            writer.Tag(EventBatch.ContainersFieldNumber, LengthDelimitedType);
            writer.Varint((uint)containerLength);
            container.WriteTo(span[writer.Written..total]);
            output.Advance(total);
        }
    }

    /// <summary>The batch's encoded length; records each event's length and its strings' in <see cref="_sizes"/>.</summary>
    private int Measure(EventBatch batch)
    {
        int length = 0;
        for (int i = 0; i < batch.Events.Count; i++)
        {
            Event wire = batch.Events[i];
            int slot = _sizes.Count;
            _sizes.Add(0);
            int eventLength = MeasureEvent(wire);
            _sizes[slot] = eventLength;
            length += Tag(EventBatch.EventsFieldNumber) + VarintSize((uint)eventLength) + eventLength;
        }

        foreach (ContainerInfo container in batch.Containers)
        {
            int containerLength = container.CalculateSize();
            length += Tag(EventBatch.ContainersFieldNumber) + VarintSize((uint)containerLength) + containerLength;
        }

        return length;
    }

    private int MeasureEvent(Event wire)
    {
        int length = 0;
        length += Fixed64(Event.TimestampUnixNsFieldNumber, (ulong)wire.TimestampUnixNs);
        length += Varint(Event.PidFieldNumber, wire.Pid) + Varint(Event.TidFieldNumber, wire.Tid) + Varint(Event.PpidFieldNumber, wire.Ppid)
            + Varint(Event.UidFieldNumber, wire.Uid) + Varint(Event.GidFieldNumber, wire.Gid);
        length += MeasureString(Event.CommFieldNumber, wire.Comm);
        length += Fixed64(Event.MntnsIdFieldNumber, wire.MntnsId) + Fixed64(Event.NetnsIdFieldNumber, wire.NetnsId);

        int field;
        int slot = _sizes.Count;
        _sizes.Add(0);
        int payloadLength;
        switch (wire.PayloadCase)
        {
            case Event.PayloadOneofCase.Exec:
                field = Event.ExecFieldNumber;
                payloadLength = MeasureExec(wire.Exec);
                break;
            case Event.PayloadOneofCase.Open:
                field = Event.OpenFieldNumber;
                payloadLength = MeasureOpen(wire.Open);
                break;
            case Event.PayloadOneofCase.Dns:
                field = Event.DnsFieldNumber;
                payloadLength = MeasureDns(wire.Dns);
                break;
            default:
                _sizes.RemoveAt(slot);
                return length;
        }

        _sizes[slot] = payloadLength;
        return length + Tag(field) + VarintSize((uint)payloadLength) + payloadLength;
    }

    private int MeasureExec(ExecPayload exec)
    {
        int length = MeasureString(ExecPayload.ExePathFieldNumber, exec.ExePath);
        // Indexed: RepeatedField's enumerator is an allocated iterator, a cost per event here.
        for (int i = 0; i < exec.Args.Count; i++)
        {
            length += MeasureString(ExecPayload.ArgsFieldNumber, exec.Args[i], always: true);
        }

        return length + Int32(ExecPayload.ErrorFieldNumber, exec.Error) + Bool(ExecPayload.ArgsTruncatedFieldNumber, exec.ArgsTruncated);
    }

    private int MeasureOpen(OpenPayload open)
        => MeasureString(OpenPayload.PathFieldNumber, open.Path)
            + MeasureString(OpenPayload.FullPathFieldNumber, open.FullPath)
            + Int32(OpenPayload.FdFieldNumber, open.Fd)
            + Int32(OpenPayload.ErrorFieldNumber, open.Error)
            + Varint(OpenPayload.FlagsFieldNumber, open.Flags)
            + Varint(OpenPayload.ModeFieldNumber, open.Mode)
            + Bool(OpenPayload.PathTruncatedFieldNumber, open.PathTruncated);

    private int MeasureDns(DnsPayload dns)
    {
        int length = Bool(DnsPayload.ResponseFieldNumber, dns.Response)
            + Varint(DnsPayload.PacketTypeFieldNumber, dns.PacketType)
            + Varint(DnsPayload.IdFieldNumber, dns.Id)
            + Varint(DnsPayload.QtypeFieldNumber, dns.Qtype)
            + MeasureString(DnsPayload.NameFieldNumber, dns.Name)
            + Int32(DnsPayload.RcodeFieldNumber, dns.Rcode)
            + Varint(DnsPayload.NumAnswersFieldNumber, dns.NumAnswers);
        for (int i = 0; i < dns.Addresses.Count; i++)
        {
            length += Tag(DnsPayload.AddressesFieldNumber) + VarintSize((uint)dns.Addresses[i].Length) + dns.Addresses[i].Length;
        }

        length += Bytes(DnsPayload.SrcAddrFieldNumber, dns.SrcAddr) + Varint(DnsPayload.SrcPortFieldNumber, dns.SrcPort)
            + Bytes(DnsPayload.DstAddrFieldNumber, dns.DstAddr) + Varint(DnsPayload.DstPortFieldNumber, dns.DstPort)
            + Varint(DnsPayload.ProtocolFieldNumber, dns.Protocol);
        if (dns.HasLatencyNs)
        {
            length += Tag(DnsPayload.LatencyNsFieldNumber) + VarintSize(dns.LatencyNs); // optional: present even when 0
        }

        return length + Bool(DnsPayload.TruncatedFieldNumber, dns.Truncated) + Fixed64(DnsPayload.SocketCookieFieldNumber, dns.SocketCookie);
    }

    private void WriteEvent(ref WireWriter writer, Event wire)
    {
        writer.Fixed64(Event.TimestampUnixNsFieldNumber, (ulong)wire.TimestampUnixNs);
        writer.Varint(Event.PidFieldNumber, wire.Pid);
        writer.Varint(Event.TidFieldNumber, wire.Tid);
        writer.Varint(Event.PpidFieldNumber, wire.Ppid);
        writer.Varint(Event.UidFieldNumber, wire.Uid);
        writer.Varint(Event.GidFieldNumber, wire.Gid);
        WriteString(ref writer, Event.CommFieldNumber, wire.Comm);
        writer.Fixed64(Event.MntnsIdFieldNumber, wire.MntnsId);
        writer.Fixed64(Event.NetnsIdFieldNumber, wire.NetnsId);

        switch (wire.PayloadCase)
        {
            case Event.PayloadOneofCase.Exec:
                WritePayloadHeader(ref writer, Event.ExecFieldNumber);
                WriteExec(ref writer, wire.Exec);
                break;
            case Event.PayloadOneofCase.Open:
                WritePayloadHeader(ref writer, Event.OpenFieldNumber);
                WriteOpen(ref writer, wire.Open);
                break;
            case Event.PayloadOneofCase.Dns:
                WritePayloadHeader(ref writer, Event.DnsFieldNumber);
                WriteDns(ref writer, wire.Dns);
                break;
        }
    }

    private void WritePayloadHeader(ref WireWriter writer, int field)
    {
        writer.Tag(field, LengthDelimitedType);
        writer.Varint((uint)_sizes[_nextSize++]);
    }

    private void WriteExec(ref WireWriter writer, ExecPayload exec)
    {
        WriteString(ref writer, ExecPayload.ExePathFieldNumber, exec.ExePath);
        for (int i = 0; i < exec.Args.Count; i++)
        {
            WriteString(ref writer, ExecPayload.ArgsFieldNumber, exec.Args[i], always: true);
        }

        writer.Int32(ExecPayload.ErrorFieldNumber, exec.Error);
        writer.Bool(ExecPayload.ArgsTruncatedFieldNumber, exec.ArgsTruncated);
    }

    private void WriteOpen(ref WireWriter writer, OpenPayload open)
    {
        WriteString(ref writer, OpenPayload.PathFieldNumber, open.Path);
        WriteString(ref writer, OpenPayload.FullPathFieldNumber, open.FullPath);
        writer.Int32(OpenPayload.FdFieldNumber, open.Fd);
        writer.Int32(OpenPayload.ErrorFieldNumber, open.Error);
        writer.Varint(OpenPayload.FlagsFieldNumber, open.Flags);
        writer.Varint(OpenPayload.ModeFieldNumber, open.Mode);
        writer.Bool(OpenPayload.PathTruncatedFieldNumber, open.PathTruncated);
    }

    private void WriteDns(ref WireWriter writer, DnsPayload dns)
    {
        writer.Bool(DnsPayload.ResponseFieldNumber, dns.Response);
        writer.Varint(DnsPayload.PacketTypeFieldNumber, dns.PacketType);
        writer.Varint(DnsPayload.IdFieldNumber, dns.Id);
        writer.Varint(DnsPayload.QtypeFieldNumber, dns.Qtype);
        WriteString(ref writer, DnsPayload.NameFieldNumber, dns.Name);
        writer.Int32(DnsPayload.RcodeFieldNumber, dns.Rcode);
        writer.Varint(DnsPayload.NumAnswersFieldNumber, dns.NumAnswers);
        for (int i = 0; i < dns.Addresses.Count; i++)
        {
            writer.Bytes(DnsPayload.AddressesFieldNumber, dns.Addresses[i].Span, always: true);
        }

        writer.Bytes(DnsPayload.SrcAddrFieldNumber, dns.SrcAddr.Span);
        writer.Varint(DnsPayload.SrcPortFieldNumber, dns.SrcPort);
        writer.Bytes(DnsPayload.DstAddrFieldNumber, dns.DstAddr.Span);
        writer.Varint(DnsPayload.DstPortFieldNumber, dns.DstPort);
        writer.Varint(DnsPayload.ProtocolFieldNumber, dns.Protocol);
        if (dns.HasLatencyNs)
        {
            writer.Tag(DnsPayload.LatencyNsFieldNumber, VarintType);
            writer.Varint(dns.LatencyNs);
        }

        writer.Bool(DnsPayload.TruncatedFieldNumber, dns.Truncated);
        writer.Fixed64(DnsPayload.SocketCookieFieldNumber, dns.SocketCookie);
    }

    /// <summary>A string field's encoded length (absent when empty, unless repeated); records its UTF-8 length.</summary>
    private int MeasureString(int field, string value, bool always = false)
    {
        if (value.Length == 0 && !always)
        {
            return 0;
        }

        int bytes = Encoding.UTF8.GetByteCount(value);
        _sizes.Add(bytes);
        return Tag(field) + VarintSize((uint)bytes) + bytes;
    }

    private void WriteString(ref WireWriter writer, int field, string value, bool always = false)
    {
        if (value.Length == 0 && !always)
        {
            return;
        }

        writer.String(field, value, _sizes[_nextSize++]);
    }

    private static int Tag(int field) => VarintSize((uint)field << 3);

    private static int Varint(int field, uint value) => value == 0 ? 0 : Tag(field) + VarintSize(value);

    // int32 is sign-extended to 64 bits on the wire: a negative value takes ten bytes.
    private static int Int32(int field, int value) => value == 0 ? 0 : Tag(field) + VarintSize((ulong)(long)value);

    private static int Bool(int field, bool value) => value ? Tag(field) + 1 : 0;

    private static int Fixed64(int field, ulong value) => value == 0 ? 0 : Tag(field) + sizeof(ulong);

    private static int Bytes(int field, ByteString value) => value.Length == 0 ? 0 : Tag(field) + VarintSize((uint)value.Length) + value.Length;

    private static int VarintSize(ulong value) => (BitOperations.Log2(value | 1) / 7) + 1;

    /// <summary>Protobuf's primitives over a span that the measuring pass sized exactly.</summary>
    private ref struct WireWriter(Span<byte> buffer)
    {
        private readonly Span<byte> _buffer = buffer;

        public int Written { get; private set; }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Tag(int field, int wireType) => Varint(((uint)field << 3) | (uint)wireType);

        // Inlined with a local count: a field number is constant at nearly every call, and most
        // values take a byte or two.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Varint(ulong value)
        {
            Span<byte> buffer = _buffer;
            int written = Written;
            while (value >= 0x80)
            {
                buffer[written++] = (byte)(value | 0x80);
                value >>= 7;
            }

            buffer[written++] = (byte)value;
            Written = written;
        }

        public void Varint(int field, uint value)
        {
            if (value != 0)
            {
                Tag(field, VarintType);
                Varint(value);
            }
        }

        public void Int32(int field, int value)
        {
            if (value != 0)
            {
                Tag(field, VarintType);
                Varint((ulong)(long)value);
            }
        }

        public void Bool(int field, bool value)
        {
            if (value)
            {
                Tag(field, VarintType);
                _buffer[Written++] = 1;
            }
        }

        public void Fixed64(int field, ulong value)
        {
            if (value != 0)
            {
                Tag(field, Fixed64Type);
                BinaryPrimitives.WriteUInt64LittleEndian(_buffer[Written..], value);
                Written += sizeof(ulong);
            }
        }

        public void String(int field, string value, int utf8Length)
        {
            Tag(field, LengthDelimitedType);
            Varint((uint)utf8Length);
            Written += Encoding.UTF8.GetBytes(value, _buffer[Written..]);
        }

        public void Bytes(int field, ReadOnlySpan<byte> value, bool always = false)
        {
            if (value.Length == 0 && !always)
            {
                return;
            }

            Tag(field, LengthDelimitedType);
            Varint((uint)value.Length);
            value.CopyTo(_buffer[Written..]);
            Written += value.Length;
        }
    }
}

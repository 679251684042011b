using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Gadget.Agent.Decoding;
using Gadget.Bpf;
using Gadget.Protocol.V1;
using Gadget.Schema;

namespace Gadget.Agent.Gadgets.Dns;

/// <summary>Mirror of <c>struct dns_query_key</c> (bpf/dns.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct DnsQueryKey
{
    public ulong SocketCookie;
    public ushort DnsId;
    public ushort Pad0;
    public uint Pad1;
}

/// <summary>
/// DNS queries and responses of every process (bpf/dns): turns the ports and qr parameters into
/// the program's filters, parses each captured message into the fields gadget.yaml declares as
/// derived, and reports queries that got no response.
/// </summary>
internal sealed class DnsGadget : GadgetHook
{
    public const string PortsParameter = "ports";
    public const string QrParameter = "qr";
    public const string NameParameter = "name";
    public const string ResponseTimeoutParameter = "response-timeout-ms";

    /// <summary>RCODE of the event made for a query that got no response in time.</summary>
    public const int NoResponseRcode = -1;

    public static readonly TimeSpan DefaultResponseTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Queries the agent waits on at once; the kernel's dns_queries map has as many entries.</summary>
    public const int MaxPendingQueries = 16384;

    public override void Configure(BpfObject bpf, TraceRequest request)
    {
        ushort[] ports = ParsePorts(request);
        bpf.SetConstant("dns_ports", MemoryMarshal.AsBytes(ports.AsSpan()));
        bpf.SetConstant("dns_filter_qr", (byte)ParseQr(request));
    }

    public override RecordHook CreateRecordHook(TraceRequest request, TraceSchema schema, BpfObject bpf)
    {
        BtfStruct layout = bpf.FindStruct("dns_event") ?? throw new GadgetObjectException("The dns program has no struct dns_event.");
        return new DnsDecoder(DnsRecordLayout.From(layout, schema), ParseNames(request), ParseTimeout(request));
    }

    internal static ushort[] ParsePorts(TraceRequest request)
    {
        if (!request.Parameters.TryGetValue(PortsParameter, out string? text) || string.IsNullOrWhiteSpace(text))
        {
            return [53, 5353];
        }

        string[] parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length is 0 or > 16)
        {
            throw new GadgetRequestException(GadgetParameters.InvalidParameterId, $"Parameter '{PortsParameter}' takes 1 to 16 ports, not {parts.Length}.");
        }

        var ports = new ushort[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!ushort.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out ports[i]) || ports[i] == 0)
            {
                throw new GadgetRequestException(GadgetParameters.InvalidParameterId, $"Parameter '{PortsParameter}': '{parts[i]}' is not a port (1-65535).");
            }
        }

        return ports;
    }

    /// <summary>0: both; 1: queries; 2: responses (the values of dns_filter_qr).</summary>
    internal static int ParseQr(TraceRequest request)
    {
        if (!request.Parameters.TryGetValue(QrParameter, out string? text) || string.IsNullOrEmpty(text))
        {
            return 0;
        }

        return text.ToLowerInvariant() switch
        {
            "query" or "q" => 1,
            "response" or "r" => 2,
            _ => throw new GadgetRequestException(GadgetParameters.InvalidParameterId, $"Parameter '{QrParameter}' must be 'query' or 'response', not '{text}'."),
        };
    }

    internal static TimeSpan ParseTimeout(TraceRequest request)
    {
        if (!request.Parameters.TryGetValue(ResponseTimeoutParameter, out string? text) || string.IsNullOrEmpty(text))
        {
            return DefaultResponseTimeout;
        }

        return uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out uint ms)
            ? TimeSpan.FromMilliseconds(ms)
            : throw new GadgetRequestException(GadgetParameters.InvalidParameterId, $"Parameter '{ResponseTimeoutParameter}' must be a whole number of milliseconds, not '{text}'.");
    }

    internal static NamePattern[] ParseNames(TraceRequest request)
        => request.Parameters.TryGetValue(NameParameter, out string? text) && !string.IsNullOrWhiteSpace(text)
            ? [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(p => new NamePattern(p))]
            : [];
}

/// <summary>Where a dns_event's fields sit in the record, and where the derived ones go in a row.</summary>
internal sealed record DnsRecordLayout(
    int Timestamp, int SocketCookie, int Id, int PacketType, int Qr, int MessageLength, int Data,
    int RowQType, int RowRcode, int RowNumAnswers, int RowTc, int RowAa, int RowRd, int RowRa, int RowCaptureTruncated)
{
    public static DnsRecordLayout From(BtfStruct record, TraceSchema schema) => new(
        record["timestamp"].Offset, record["__socket_cookie"].Offset, record["id"].Offset, record["pkt_type"].Offset, record["qr"].Offset,
        record["__msg_len"].Offset, record["__data"].Offset,
        RowOffset(schema, "qtype"), RowOffset(schema, "rcode"), RowOffset(schema, "num_answers"),
        RowOffset(schema, "tc"), RowOffset(schema, "aa"), RowOffset(schema, "rd"), RowOffset(schema, "ra"), RowOffset(schema, "capture_truncated"));

    private static int RowOffset(TraceSchema schema, string field)
        => schema.Field(field) is { IsFixed: true } found ? found.Offset : throw new GadgetObjectException($"The dns gadget's schema lacks the fixed field '{field}'.");
}

/// <summary>
/// Parses dns records into their derived fields, applies the name filter, and reports queries that
/// got no response: every outgoing query that passes the filters waits here until its response is
/// seen or <c>timeout</c> passes. At the deadline the kernel's dns_queries map has the last word (a
/// response the kernel filtered out still removed its entry there); a query still in it is reported
/// once, as a copy of the query's row with rcode -1.
/// </summary>
internal sealed class DnsDecoder(DnsRecordLayout layout, NamePattern[] names, TimeSpan timeout) : RecordHook
{
    private const byte PacketHost = 0;
    private const byte PacketOutgoing = 4;

    private readonly ulong _timeoutNs = (ulong)timeout.Ticks * 100;
    private readonly Dictionary<(ulong Cookie, ushort Id), LinkedListNode<Pending>> _pending = [];
    private readonly LinkedList<Pending> _byDeadline = new();
    private BpfMap? _queries;
    private long _dropped;

    public override long Dropped => Interlocked.Read(ref _dropped);

    public override bool NeedsEveryRecord => true;

    public override void OnLoaded(BpfObject bpf) => _queries = bpf.GetMap("dns_queries");

    public override bool Complete(ReadOnlySpan<byte> record, RowWriter row)
    {
        uint messageLength = BinaryPrimitives.ReadUInt32LittleEndian(record[layout.MessageLength..]);
        ReadOnlySpan<byte> data = record[layout.Data..];
        if (!DnsParser.TryParse(data, out DnsMessage? message))
        {
            throw new MalformedRecordException($"An unreadable DNS message ({data.Length} bytes).");
        }

        ulong cookie = BinaryPrimitives.ReadUInt64LittleEndian(record[layout.SocketCookie..]);
        byte packetType = record[layout.PacketType];
        var key = (cookie, message!.Id);
        if (message.Response && packetType == PacketHost && _pending.Remove(key, out LinkedListNode<Pending>? answered))
        {
            _byDeadline.Remove(answered);
        }

        if (names.Length > 0 && !names.Any(n => n.IsMatch(message.Name)))
        {
            return false;
        }

        Span<byte> fixedBlock = row.Fixed;
        BinaryPrimitives.WriteUInt16LittleEndian(fixedBlock[layout.RowQType..], message.QType);
        BinaryPrimitives.WriteInt32LittleEndian(fixedBlock[layout.RowRcode..], message.Rcode);
        BinaryPrimitives.WriteInt32LittleEndian(fixedBlock[layout.RowNumAnswers..], message.AnswerCount);
        fixedBlock[layout.RowTc] = (message.Flags & 0x0200) != 0 ? (byte)1 : (byte)0;
        fixedBlock[layout.RowAa] = (message.Flags & 0x0400) != 0 ? (byte)1 : (byte)0;
        fixedBlock[layout.RowRd] = (message.Flags & 0x0100) != 0 ? (byte)1 : (byte)0;
        fixedBlock[layout.RowRa] = (message.Flags & 0x0080) != 0 ? (byte)1 : (byte)0;
        fixedBlock[layout.RowCaptureTruncated] = data.Length < messageLength || message.AnswersIncomplete ? (byte)1 : (byte)0;

        int nameLength = Encoding.UTF8.GetByteCount(message.Name);
        Encoding.UTF8.GetBytes(message.Name, row.BeginVariable(nameLength));
        row.EndVariable(nameLength);

        // Addresses: each a length byte and the address.
        int addressesLength = message.Addresses.Sum(a => 1 + a.Length);
        Span<byte> addresses = row.BeginVariable(addressesLength);
        foreach (byte[] address in message.Addresses)
        {
            addresses[0] = (byte)address.Length;
            address.CopyTo(addresses[1..]);
            addresses = addresses[(1 + address.Length)..];
        }

        row.EndVariable(addressesLength);

        if (!message.Response && packetType == PacketOutgoing && _timeoutNs > 0)
        {
            ulong timestamp = BinaryPrimitives.ReadUInt64LittleEndian(record[layout.Timestamp..]);
            Track(key, timestamp + _timeoutNs, row);
        }

        return true;
    }

    public override void Tick(ulong nowBootNs, List<byte[]> due)
    {
        while (_byDeadline.First is { } first && first.Value.DeadlineNs <= nowBootNs)
        {
            Pending pending = first.Value;
            _byDeadline.RemoveFirst();
            _pending.Remove(pending.Key);
            if (StillWaiting(pending.Key))
            {
                BinaryPrimitives.WriteInt32LittleEndian(pending.Row.AsSpan(layout.RowRcode), DnsGadget.NoResponseRcode);
                due.Add(pending.Row);
            }
        }
    }

    private void Track((ulong Cookie, ushort Id) key, ulong deadlineNs, RowWriter row)
    {
        if (_pending.ContainsKey(key))
        {
            return; // a retry: the first transmission's deadline stands
        }

        if (_pending.Count >= DnsGadget.MaxPendingQueries)
        {
            Interlocked.Increment(ref _dropped);
            return;
        }

        // A copy: the batch that holds the row is reused once the stream has written it.
        _pending[key] = _byDeadline.AddLast(new Pending(key, deadlineNs, row.Written.ToArray()));
    }

    /// <summary>True while the kernel still holds the query (no response reached its socket).</summary>
    private bool StillWaiting((ulong Cookie, ushort Id) key)
    {
        if (_queries is not BpfMap queries)
        {
            return true;
        }

        try
        {
            return queries.TryLookup(new DnsQueryKey { SocketCookie = key.Cookie, DnsId = key.Id }, out ulong _);
        }
        catch (BpfException)
        {
            return true;
        }
    }

    /// <summary>
    /// The end of the trace: a query the kernel no longer holds was answered (after the end, or its
    /// response was filtered); one it still holds at its deadline is reported unanswered, as during
    /// the trace. So a query sent while the trace ran is never dropped silently, whatever its length.
    /// </summary>
    public override bool Settle(ulong nowBootNs, List<byte[]> due)
    {
        for (LinkedListNode<Pending>? node = _byDeadline.First; node is not null;)
        {
            LinkedListNode<Pending>? next = node.Next;
            Pending pending = node.Value;
            bool waiting = StillWaiting(pending.Key);
            if (!waiting || pending.DeadlineNs <= nowBootNs)
            {
                _byDeadline.Remove(node);
                _pending.Remove(pending.Key);
                if (waiting)
                {
                    BinaryPrimitives.WriteInt32LittleEndian(pending.Row.AsSpan(layout.RowRcode), DnsGadget.NoResponseRcode);
                    due.Add(pending.Row);
                }
            }

            node = next;
        }

        return _pending.Count > 0;
    }

    /// <summary>The response timeout, and a little for the last check.</summary>
    public override TimeSpan SettleLimit => timeout + TimeSpan.FromMilliseconds(500);

    private sealed record Pending((ulong Cookie, ushort Id) Key, ulong DeadlineNs, byte[] Row);
}

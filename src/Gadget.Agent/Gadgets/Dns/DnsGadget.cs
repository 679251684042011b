using System.Globalization;
using System.Runtime.InteropServices;
using Gadget.Bpf;
using Gadget.Protocol.V1;
using Google.Protobuf;

namespace Gadget.Agent.Gadgets.Dns;

/// <summary>Mirror of <c>struct dns_event</c> (bpf/dns.h) up to, not including, the data buffer.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct DnsRecordHeader
{
    public const int MaxData = 512;
    public const byte FlagAttributed = 1;
    public const byte FlagLatency = 2;
    public const byte PacketHost = 0;
    public const byte PacketOutgoing = 4;

    public ulong TimestampNs;
    public ProcessRecord Proc;
    public ulong SocketCookie;
    public ulong LatencyNs;
    public fixed byte Saddr[16];
    public fixed byte Daddr[16];
    public ushort Sport;
    public ushort Dport;
    public ushort DnsId;
    public byte Family;
    public byte Protocol;
    public byte PacketType;
    public byte Flags;
    public ushort Pad;
    public uint MessageLength;
    public uint DataLength;
    public uint Pad2;
}

/// <summary>Mirror of <c>struct dns_query_key</c> (bpf/dns.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct DnsQueryKey
{
    public ulong SocketCookie;
    public ushort DnsId;
    public ushort Pad0;
    public uint Pad1;
}

/// <summary>DNS queries and responses of every process (bpf/dns.bpf.c).</summary>
internal sealed class DnsGadget : GadgetDefinition
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

    public override string Name => "dns";

    public override string Description => "DNS queries and responses: process, name, type, response code, addresses, nameserver, latency; queries that get no response.";

    public override IReadOnlyDictionary<string, string> Parameters { get; } = new Dictionary<string, string>
    {
        [PortsParameter] = "Comma-separated UDP/TCP ports that carry DNS (at most 16; default 53,5353). Checked in the kernel.",
        [QrParameter] = "query or response: only that half (checked in the kernel). Default: both.",
        [NameParameter] = "Comma-separated name patterns with * ? [a-z] wildcards, matched against the first question's name (in the agent).",
        [ResponseTimeoutParameter] = "Milliseconds to wait for a response before reporting a query as unanswered (rcode -1); 0: never. Default 5000.",
    };

    public override IReadOnlyList<ProgramAttachment> Configure(BpfObject bpf, TraceRequest request)
    {
        ushort[] ports = ParsePorts(request);
        bpf.SetConstant("dns_ports", MemoryMarshal.AsBytes(ports.AsSpan()));
        bpf.SetConstant("dns_filter_qr", (byte)ParseQr(request));
        return [ProgramAttachment.CgroupRoot("gadget_dns_egress"), ProgramAttachment.CgroupRoot("gadget_dns_ingress")];
    }

    public override IRecordDecoder CreateDecoder(TraceRequest request, EventFactory events)
    {
        TimeSpan timeout = ParseTimeout(request);
        NamePattern[] names = ParseNames(request);
        return new DnsDecoder(events, names, timeout);
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

/// <summary>
/// Turns dns records into events, applies the name filter, and reports queries that got no
/// response: every outgoing query that passes the filters waits here until its response is seen
/// or <c>timeout</c> passes. At the deadline the kernel's dns_queries map has the last word (a
/// response the kernel filtered out still removed its entry there); a query still in it is
/// reported once, as a copy of the query event with rcode -1.
/// </summary>
internal sealed unsafe class DnsDecoder(EventFactory events, NamePattern[] names, TimeSpan timeout) : ITimedRecordDecoder, IObjectAwareDecoder
{
    private readonly ulong _timeoutNs = (ulong)timeout.Ticks * 100;
    private readonly Dictionary<(ulong Cookie, ushort Id), LinkedListNode<Pending>> _pending = [];
    private readonly LinkedList<Pending> _byDeadline = new();
    private BpfMap? _queries;
    private long _dropped;

    public long Dropped => Interlocked.Read(ref _dropped);

    public void OnLoaded(BpfObject bpf) => _queries = bpf.GetMap("dns_queries");

    public Event? Decode(ReadOnlySpan<byte> record)
    {
        ref readonly DnsRecordHeader header = ref RecordReader.Header<DnsRecordHeader>(record);
        ReadOnlySpan<byte> data = record[sizeof(DnsRecordHeader)..];
        if (header.DataLength < data.Length)
        {
            data = data[..(int)header.DataLength];
        }

        if (!DnsParser.TryParse(data, out DnsMessage? message))
        {
            throw new MalformedRecordException($"An unreadable DNS message ({data.Length} bytes).");
        }

        var key = (header.SocketCookie, message!.Id);
        if (message.Response && header.PacketType == DnsRecordHeader.PacketHost && _pending.Remove(key, out LinkedListNode<Pending>? answered))
        {
            _byDeadline.Remove(answered);
        }

        if (names.Length > 0 && !names.Any(n => n.IsMatch(message.Name)))
        {
            return null;
        }

        Event e = ToEvent(header, message, data.Length);
        if (!message.Response && header.PacketType == DnsRecordHeader.PacketOutgoing && _timeoutNs > 0)
        {
            Track(key, header.TimestampNs + _timeoutNs, e);
        }

        return e;
    }

    public void Tick(ulong nowBootNs, ICollection<Event> due)
    {
        while (_byDeadline.First is { } first && first.Value.DeadlineNs <= nowBootNs)
        {
            Pending pending = first.Value;
            _byDeadline.RemoveFirst();
            _pending.Remove(pending.Key);
            if (StillWaiting(pending.Key))
            {
                Event unanswered = pending.Query;
                unanswered.Dns.Rcode = DnsGadget.NoResponseRcode;
                due.Add(unanswered);
            }
        }
    }

    private void Track((ulong Cookie, ushort Id) key, ulong deadlineNs, Event query)
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

        // A copy: the query event itself is reused once the stream has written it.
        _pending[key] = _byDeadline.AddLast(new Pending(key, deadlineNs, query.Clone()));
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

    private Event ToEvent(in DnsRecordHeader header, DnsMessage message, int captured)
    {
        int addressLength = header.Family == 6 ? 16 : 4;
        var payload = new DnsPayload
        {
            Response = message.Response,
            PacketType = header.PacketType,
            Id = message.Id,
            Qtype = message.QType,
            Name = message.Name,
            Rcode = message.Rcode,
            NumAnswers = message.AnswerCount,
            SrcPort = header.Sport,
            DstPort = header.Dport,
            Protocol = header.Protocol,
            Truncated = captured < header.MessageLength || message.AnswersIncomplete,
            SocketCookie = header.SocketCookie,
        };
        fixed (byte* saddr = header.Saddr, daddr = header.Daddr)
        {
            payload.SrcAddr = ByteString.CopyFrom(new ReadOnlySpan<byte>(saddr, addressLength));
            payload.DstAddr = ByteString.CopyFrom(new ReadOnlySpan<byte>(daddr, addressLength));
        }

        if ((header.Flags & DnsRecordHeader.FlagLatency) != 0)
        {
            payload.LatencyNs = header.LatencyNs;
        }

        foreach (byte[] address in message.Addresses)
        {
            payload.Addresses.Add(ByteString.CopyFrom(address));
        }

        Event e = events.New(header.Proc, header.TimestampNs);
        e.Dns = payload;
        return e;
    }

    private sealed record Pending((ulong Cookie, ushort Id) Key, ulong DeadlineNs, Event Query);
}

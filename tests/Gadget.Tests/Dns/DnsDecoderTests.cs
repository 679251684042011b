using System.Net;
using System.Runtime.InteropServices;
using Gadget.Agent.Gadgets;
using Gadget.Agent.Gadgets.Dns;
using Gadget.Bpf;
using Gadget.Protocol.V1;
using Xunit;

namespace Gadget.Tests.Dns;

public sealed unsafe class DnsDecoderTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);
    private const ulong Second = 1_000_000_000;

    [Fact]
    public void OutgoingQueryBecomesAnEventWithEveryField()
    {
        var decoder = new DnsDecoder(new EventFactory(BootClock.Now()), [], Timeout);
        byte[] record = Record(DnsWire.Query(0x1234, "known.test", DnsWire.TypeA), outgoing: true, cookie: 42, bootNs: 10 * Second);

        Event e = decoder.Decode(record)!;

        Assert.Equal(4242u, e.Pid);
        Assert.Equal(4243u, e.Tid);
        Assert.Equal("dig", e.Comm);
        DnsPayload dns = e.Dns;
        Assert.False(dns.Response);
        Assert.Equal(4u, dns.PacketType);
        Assert.Equal(0x1234u, dns.Id);
        Assert.Equal(1u, dns.Qtype);
        Assert.Equal("known.test.", dns.Name);
        Assert.Equal(0, dns.Rcode);
        Assert.Equal(IPAddress.Parse("127.0.0.1"), new IPAddress(dns.SrcAddr.Span));
        Assert.Equal(IPAddress.Parse("127.0.78.1"), new IPAddress(dns.DstAddr.Span));
        Assert.Equal(40000u, dns.SrcPort);
        Assert.Equal(53u, dns.DstPort);
        Assert.Equal(17u, dns.Protocol);
        Assert.False(dns.HasLatencyNs);
        Assert.False(dns.Truncated);
    }

    [Fact]
    public void UnansweredQueryIsReportedOnceAtItsDeadline()
    {
        var decoder = new DnsDecoder(new EventFactory(BootClock.Now()), [], Timeout);
        Event query = decoder.Decode(Record(DnsWire.Query(7, "silent.test", DnsWire.TypeA), outgoing: true, cookie: 1, bootNs: 10 * Second))!;
        var due = new List<Event>();

        decoder.Tick((12 * Second) - 1, due);
        Assert.Empty(due);

        decoder.Tick(12 * Second, due);
        Event unanswered = Assert.Single(due);
        Assert.Equal(DnsGadget.NoResponseRcode, unanswered.Dns.Rcode);
        Assert.Equal("silent.test.", unanswered.Dns.Name);
        Assert.Equal(query.TimestampUnixNs, unanswered.TimestampUnixNs);
        Assert.Equal(query.Pid, unanswered.Pid);
        Assert.False(unanswered.Dns.Response);
        Assert.Equal(0, query.Dns.Rcode); // the query event itself is not changed

        decoder.Tick(20 * Second, due);
        Assert.Single(due);
    }

    [Fact]
    public void AnUnansweredQueryIsReportedAsItWasAfterItsEventIsReused()
    {
        var events = new EventFactory(BootClock.Now());
        var decoder = new DnsDecoder(events, [], Timeout);
        Event query = decoder.Decode(Record(DnsWire.Query(7, "silent.test", DnsWire.TypeA), outgoing: true, cookie: 1, bootNs: 10 * Second))!;
        var written = new EventBatch();
        written.Events.Add(query);
        events.Recycle(written);

        // The stream wrote the query; its event now carries another packet.
        Event next = decoder.Decode(Record(DnsWire.Response(9, "other.test", DnsWire.TypeA, 3), outgoing: false, cookie: 2, bootNs: 11 * Second))!;
        Assert.Same(query, next);

        var due = new List<Event>();
        decoder.Tick(12 * Second, due);
        Event unanswered = Assert.Single(due);
        Assert.NotSame(next, unanswered);
        Assert.Equal("silent.test.", unanswered.Dns.Name);
        Assert.Equal(7u, unanswered.Dns.Id);
        Assert.False(unanswered.Dns.Response);
        Assert.Equal(DnsGadget.NoResponseRcode, unanswered.Dns.Rcode);
        Assert.Equal("other.test.", next.Dns.Name);
    }

    [Fact]
    public void AnsweredQueryIsNotReportedAndARetryKeepsTheFirstDeadline()
    {
        var decoder = new DnsDecoder(new EventFactory(BootClock.Now()), [], Timeout);
        decoder.Decode(Record(DnsWire.Query(7, "known.test", DnsWire.TypeA), outgoing: true, cookie: 1, bootNs: 10 * Second));
        decoder.Decode(Record(DnsWire.Query(8, "retry.test", DnsWire.TypeA), outgoing: true, cookie: 1, bootNs: 10 * Second));
        decoder.Decode(Record(DnsWire.Query(8, "retry.test", DnsWire.TypeA), outgoing: true, cookie: 1, bootNs: 11 * Second));
        decoder.Decode(Record(DnsWire.Response(7, "known.test", DnsWire.TypeA, 0, IPAddress.Loopback), outgoing: false, cookie: 1, bootNs: 10 * Second + 5));
        // Same id on another socket is another query.
        decoder.Decode(Record(DnsWire.Response(8, "retry.test", DnsWire.TypeA, 0), outgoing: false, cookie: 2, bootNs: 11 * Second));

        var due = new List<Event>();
        decoder.Tick(12 * Second, due);

        Event unanswered = Assert.Single(due);
        Assert.Equal("retry.test.", unanswered.Dns.Name);
    }

    [Fact]
    public void NameFilterDropsOthersAndDoesNotTrackThem()
    {
        var decoder = new DnsDecoder(new EventFactory(BootClock.Now()), [new NamePattern("*.keep.test")], Timeout);
        Assert.Null(decoder.Decode(Record(DnsWire.Query(1, "other.test", DnsWire.TypeA), outgoing: true, cookie: 1, bootNs: Second)));
        Assert.NotNull(decoder.Decode(Record(DnsWire.Query(2, "a.keep.test", DnsWire.TypeA), outgoing: true, cookie: 1, bootNs: Second)));

        var due = new List<Event>();
        decoder.Tick(10 * Second, due);
        Assert.Equal("a.keep.test.", Assert.Single(due).Dns.Name);
    }

    [Fact]
    public void ResponseWithLatencyCarriesItAndTheAddresses()
    {
        var decoder = new DnsDecoder(new EventFactory(BootClock.Now()), [], Timeout);
        byte[] record = Record(DnsWire.Response(3, "known.test", DnsWire.TypeA, 0, IPAddress.Parse("127.1.2.3")), outgoing: false, cookie: 5, bootNs: Second, latencyNs: 1_500_000);

        DnsPayload dns = decoder.Decode(record)!.Dns;

        Assert.True(dns.Response);
        Assert.Equal(0u, dns.PacketType);
        Assert.Equal(1_500_000ul, dns.LatencyNs);
        Assert.Equal(IPAddress.Parse("127.1.2.3"), new IPAddress(Assert.Single(dns.Addresses).Span));
        Assert.Equal(1u, dns.NumAnswers);
    }

    [Fact]
    public void UnreadableMessageIsMalformed()
    {
        var decoder = new DnsDecoder(new EventFactory(BootClock.Now()), [], Timeout);
        Assert.Throws<MalformedRecordException>(() => decoder.Decode(Record([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13], outgoing: true, cookie: 1, bootNs: 1, qd: 1)));
        Assert.Throws<MalformedRecordException>(() => decoder.Decode(new byte[10]));
    }

    [Fact]
    public void RecordMirrorMatchesTheCompiledStruct()
    {
        using BpfObject bpf = BpfObject.Open(GadgetCatalog.ReadObject(new DnsGadget()), "dns");
        BtfStruct record = bpf.FindStruct("dns_event")!;
        Assert.Equal(record["data"].Offset, sizeof(DnsRecordHeader));
        (string C, string CSharp)[] fields =
        [
            ("timestamp_ns", nameof(DnsRecordHeader.TimestampNs)), ("proc", nameof(DnsRecordHeader.Proc)),
            ("socket_cookie", nameof(DnsRecordHeader.SocketCookie)), ("latency_ns", nameof(DnsRecordHeader.LatencyNs)),
            ("saddr", nameof(DnsRecordHeader.Saddr)), ("daddr", nameof(DnsRecordHeader.Daddr)),
            ("sport", nameof(DnsRecordHeader.Sport)), ("dport", nameof(DnsRecordHeader.Dport)),
            ("dns_id", nameof(DnsRecordHeader.DnsId)), ("family", nameof(DnsRecordHeader.Family)),
            ("protocol", nameof(DnsRecordHeader.Protocol)), ("pkt_type", nameof(DnsRecordHeader.PacketType)),
            ("flags", nameof(DnsRecordHeader.Flags)), ("msg_len", nameof(DnsRecordHeader.MessageLength)),
            ("data_len", nameof(DnsRecordHeader.DataLength)),
        ];
        foreach ((string c, string cs) in fields)
        {
            Assert.Equal(record[c].Offset, (int)Marshal.OffsetOf<DnsRecordHeader>(cs));
        }

        BtfStruct key = bpf.FindStruct("dns_query_key")!;
        Assert.Equal(key.Size, sizeof(DnsQueryKey));
        Assert.Equal(key["dns_id"].Offset, (int)Marshal.OffsetOf<DnsQueryKey>(nameof(DnsQueryKey.DnsId)));
    }

    /// <summary>A ring record as bpf/dns.bpf.c writes it.</summary>
    internal static byte[] Record(byte[] message, bool outgoing, ulong cookie, ulong bootNs, ulong latencyNs = 0, int? qd = null)
    {
        _ = qd;
        var header = new DnsRecordHeader
        {
            TimestampNs = bootNs,
            SocketCookie = cookie,
            LatencyNs = latencyNs,
            Sport = (ushort)(outgoing ? 40000 : 53),
            Dport = (ushort)(outgoing ? 53 : 40000),
            DnsId = (ushort)((message[0] << 8) | message[1]),
            Family = 4,
            Protocol = 17,
            PacketType = outgoing ? DnsRecordHeader.PacketOutgoing : DnsRecordHeader.PacketHost,
            Flags = (byte)(DnsRecordHeader.FlagAttributed | (latencyNs > 0 ? DnsRecordHeader.FlagLatency : 0)),
            MessageLength = (uint)message.Length,
            DataLength = (uint)message.Length,
        };
        header.Proc.Pid = 4242;
        header.Proc.Tid = 4243;
        "dig"u8.CopyTo(new Span<byte>(header.Proc.Comm, 16));
        byte[] local = [127, 0, 0, 1], server = [127, 0, 78, 1];
        (outgoing ? local : server).CopyTo(new Span<byte>(header.Saddr, 16));
        (outgoing ? server : local).CopyTo(new Span<byte>(header.Daddr, 16));

        byte[] record = new byte[sizeof(DnsRecordHeader) + message.Length];
        MemoryMarshal.Write(record, in header);
        message.CopyTo(record, sizeof(DnsRecordHeader));
        return record;
    }
}

using System.Globalization;
using System.Net;
using Gadget.Agent.Decoding;
using Gadget.Agent.Gadgets;
using Gadget.Agent.Gadgets.Dns;
using Gadget.Protocol.V1;
using Gadget.Schema;
using Gadget.Tests.Gadgets;
using Xunit;

namespace Gadget.Tests.Dns;

/// <summary>
/// DNS records built as bpf/dns writes them (laid out by the object's BTF), through the generic
/// decoder and the dns hook (message parsing, name filter, unanswered queries), read back as
/// <see cref="DnsEvent"/>.
/// </summary>
public sealed class DnsDecoderTests
{
    private const ulong Second = 1_000_000_000;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    // enum dns_packet_type and dns_event_flags (bpf/dns/dns.h): stored in __u8 members, so BTF does not carry them.
    private const byte PacketHost = 0;
    private const byte PacketOutgoing = 4;
    private const byte FlagAttributed = 1;

    [Fact]
    public void OutgoingQueryBecomesAnEventWithEveryField()
    {
        AgentRows agent = Agent();
        agent.Add(Record(DnsWire.Query(0x1234, "known.test", DnsWire.TypeA), outgoing: true, cookie: 42, bootNs: 10 * Second));

        DnsEvent e = Assert.IsType<DnsEvent>(Assert.Single(agent.ToEvents()));

        Assert.Equal(4242, e.Pid);
        Assert.Equal(4243, e.Tid);
        Assert.Equal("dig", e.Comm);
        Assert.Equal(ClientRows.Time(10 * Second), e.Timestamp);
        Assert.Equal(DnsQr.Query, e.Qr);
        Assert.Equal(DnsPacketType.Outgoing, e.PacketType);
        Assert.Equal(0x1234, e.Id);
        Assert.Equal(DnsQueryType.A, e.QType);
        Assert.Equal("known.test.", e.Name);
        Assert.Equal(DnsResponseCode.NoError, e.Rcode);
        Assert.Equal(0, e.NumAnswers);
        Assert.Empty(e.Addresses);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("127.0.0.1"), 40000), e.Src);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("127.0.78.1"), 53), e.Dst);
        Assert.Equal(IPAddress.Parse("127.0.78.1"), e.Nameserver);
        Assert.Equal(IpProtocol.Udp, e.Protocol);
        Assert.Null(e.Latency);
        Assert.False(e.CaptureTruncated);
    }

    [Fact]
    public void UnansweredQueryIsReportedOnceAtItsDeadline()
    {
        AgentRows agent = Agent();
        agent.Add(Record(DnsWire.Query(7, "silent.test", DnsWire.TypeA), outgoing: true, cookie: 1, bootNs: 10 * Second));

        Assert.Equal(0, agent.Tick((12 * Second) - 1));
        Assert.Equal(1, agent.Tick(12 * Second));
        Assert.Equal(0, agent.Tick(20 * Second));

        DnsEvent[] events = [.. agent.ToEvents().Cast<DnsEvent>()];
        Assert.Equal(2, events.Length);
        (DnsEvent query, DnsEvent unanswered) = (events[0], events[1]);
        Assert.Equal(DnsResponseCode.NoResponse, unanswered.Rcode);
        Assert.Equal("silent.test.", unanswered.Name);
        Assert.Equal(query.Timestamp, unanswered.Timestamp);
        Assert.Equal(query.Pid, unanswered.Pid);
        Assert.Equal(DnsQr.Query, unanswered.Qr);
        Assert.Null(unanswered.Latency);
        Assert.Equal(DnsResponseCode.NoError, query.Rcode); // the query's own row is not changed
    }

    [Fact]
    public void AtTheEndOfATraceAnOpenQueryIsReportedAtItsDeadlineNotDropped()
    {
        AgentRows agent = Agent();
        agent.Add(Record(DnsWire.Query(7, "silent.test", DnsWire.TypeA), outgoing: true, cookie: 1, bootNs: 10 * Second));
        agent.Add(Record(DnsWire.Query(8, "answered.test", DnsWire.TypeA), outgoing: true, cookie: 1, bootNs: 10 * Second));
        agent.Add(Record(DnsWire.Response(8, "answered.test", DnsWire.TypeA, 0), outgoing: false, cookie: 1, bootNs: 11 * Second));

        // The trace ended at 11 s: the open query still waits, and says so, until its deadline.
        Assert.Equal((0, true), agent.Settle(11 * Second));
        Assert.Equal((1, false), agent.Settle(12 * Second));
        Assert.Equal((0, false), agent.Settle(13 * Second));

        DnsEvent unanswered = agent.ToEvents().Cast<DnsEvent>().Single(e => e.Rcode == DnsResponseCode.NoResponse);
        Assert.Equal("silent.test.", unanswered.Name);
        Assert.Equal(7, unanswered.Id);
    }

    [Fact]
    public void HeaderFlagsAreProperties()
    {
        AgentRows agent = Agent();
        byte[] message = DnsWire.Response(3, "big.test", DnsWire.TypeA, 0);
        message[2] |= 0x06; // AA and TC; RD and RA are set by DnsWire.Response
        DnsEvent dns = agent.Single<DnsEvent>(Record(message, outgoing: false, cookie: 5, bootNs: Second));
        Assert.True(dns.TC);
        Assert.True(dns.AA);
        Assert.True(dns.RD);
        Assert.True(dns.RA);
        Assert.False(dns.CaptureTruncated);

        byte[] query = DnsWire.Query(4, "plain.test", DnsWire.TypeA);
        query[2] = 0;
        DnsEvent plain = agent.Single<DnsEvent>(Record(query, outgoing: true, cookie: 6, bootNs: Second));
        Assert.False(plain.TC || plain.AA || plain.RD || plain.RA);
    }

    [Fact]
    public void AnUnansweredQueryIsReportedAsItWasAfterItsBatchIsReused()
    {
        AgentRows agent = Agent();
        agent.Add(Record(DnsWire.Query(7, "silent.test", DnsWire.TypeA), outgoing: true, cookie: 1, bootNs: 10 * Second));

        // The stream wrote the batch; its buffer now carries another packet.
        agent.Batch.Reset();
        agent.Add(Record(DnsWire.Response(9, "other.test", DnsWire.TypeA, 3), outgoing: false, cookie: 2, bootNs: 11 * Second));
        Assert.Equal(1, agent.Tick(12 * Second));

        DnsEvent[] events = [.. agent.ToEvents().Cast<DnsEvent>()];
        Assert.Equal(2, events.Length);
        (DnsEvent next, DnsEvent unanswered) = (events[0], events[1]);
        Assert.Equal("silent.test.", unanswered.Name);
        Assert.Equal(7, unanswered.Id);
        Assert.Equal(DnsQr.Query, unanswered.Qr);
        Assert.Equal(DnsResponseCode.NoResponse, unanswered.Rcode);
        Assert.Equal("other.test.", next.Name);
        Assert.Equal(DnsResponseCode.NXDomain, next.Rcode);
    }

    [Fact]
    public void AnsweredQueryIsNotReportedAndARetryKeepsTheFirstDeadline()
    {
        AgentRows agent = Agent();
        agent.Add(Record(DnsWire.Query(7, "known.test", DnsWire.TypeA), outgoing: true, cookie: 1, bootNs: 10 * Second));
        agent.Add(Record(DnsWire.Query(8, "retry.test", DnsWire.TypeA), outgoing: true, cookie: 1, bootNs: 10 * Second));
        agent.Add(Record(DnsWire.Query(8, "retry.test", DnsWire.TypeA), outgoing: true, cookie: 1, bootNs: 11 * Second));
        agent.Add(Record(DnsWire.Response(7, "known.test", DnsWire.TypeA, 0, IPAddress.Loopback), outgoing: false, cookie: 1, bootNs: (10 * Second) + 5));
        // Same id on another socket is another query.
        agent.Add(Record(DnsWire.Response(8, "retry.test", DnsWire.TypeA, 0), outgoing: false, cookie: 2, bootNs: 11 * Second));
        agent.Batch.Reset();

        // The retry's own deadline (13 s) has not come: the first transmission's (12 s) decides.
        Assert.Equal(1, agent.Tick(12 * Second));

        DnsEvent unanswered = Assert.IsType<DnsEvent>(Assert.Single(agent.ToEvents()));
        Assert.Equal("retry.test.", unanswered.Name);
        Assert.Equal(ClientRows.Time(10 * Second), unanswered.Timestamp);
        Assert.Equal(0, agent.Tick(20 * Second));
    }

    [Fact]
    public void AnIncomingQueryOrAnOutgoingResponseIsNotWaitedOn()
    {
        // A local server: it receives queries and sends responses; neither is a query of this host's.
        AgentRows agent = Agent();
        agent.Add(Record(DnsWire.Query(3, "served.test", DnsWire.TypeA), outgoing: false, cookie: 9, bootNs: Second));
        agent.Add(Record(DnsWire.Response(4, "served.test", DnsWire.TypeA, 0), outgoing: true, cookie: 9, bootNs: Second));

        Assert.Equal(0, agent.Tick(10 * Second));
    }

    [Fact]
    public void NoTimeoutMeansNoUnansweredQueries()
    {
        AgentRows agent = Agent(responseTimeoutMs: "0");
        agent.Add(Record(DnsWire.Query(7, "silent.test", DnsWire.TypeA), outgoing: true, cookie: 1, bootNs: Second));

        Assert.Equal(0, agent.Tick(1000 * Second));
    }

    [Fact]
    public void NameFilterDropsOthersAndDoesNotTrackThem()
    {
        AgentRows agent = Agent(names: "*.keep.test");
        Assert.False(agent.Add(Record(DnsWire.Query(1, "other.test", DnsWire.TypeA), outgoing: true, cookie: 1, bootNs: Second)));
        Assert.True(agent.Add(Record(DnsWire.Query(2, "a.keep.test", DnsWire.TypeA), outgoing: true, cookie: 1, bootNs: Second)));
        agent.Batch.Reset();

        Assert.Equal(1, agent.Tick(10 * Second));
        Assert.Equal("a.keep.test.", Assert.IsType<DnsEvent>(Assert.Single(agent.ToEvents())).Name);
    }

    [Fact]
    public void ResponseWithLatencyCarriesItAndTheAddresses()
    {
        AgentRows agent = Agent();
        byte[] message = DnsWire.Response(3, "known.test", DnsWire.TypeAaaa, 0, IPAddress.Parse("127.1.2.3"), IPAddress.Parse("fd00::1:2:3"));
        agent.Add(Record(message, outgoing: false, cookie: 5, bootNs: Second, latencyNs: 1_500_000));

        DnsEvent dns = Assert.IsType<DnsEvent>(Assert.Single(agent.ToEvents()));

        Assert.Equal(DnsQr.Response, dns.Qr);
        Assert.Equal(DnsPacketType.Host, dns.PacketType);
        Assert.Equal(DnsQueryType.AAAA, dns.QType);
        Assert.Equal(TimeSpan.FromTicks(15_000), dns.Latency);
        Assert.Equal([IPAddress.Parse("127.1.2.3"), IPAddress.Parse("fd00::1:2:3")], dns.Addresses);
        Assert.Equal(2, dns.NumAnswers);
        Assert.Equal(IPAddress.Parse("127.0.78.1"), dns.Nameserver);
        Assert.False(dns.CaptureTruncated);
    }

    [Fact]
    public void AMessageCutByTheCaptureLimitIsCaptureTruncated()
    {
        AgentRows agent = Agent();
        byte[] message = DnsWire.Response(3, "known.test", DnsWire.TypeA, 0, IPAddress.Parse("127.1.2.3"), IPAddress.Parse("127.1.2.4"));
        byte[] record = Record(message, outgoing: false, cookie: 5, bootNs: Second, messageLength: (uint)message.Length + 100);

        agent.Add(record);

        DnsEvent dns = Assert.IsType<DnsEvent>(Assert.Single(agent.ToEvents()));
        Assert.True(dns.CaptureTruncated);
        Assert.Equal("known.test.", dns.Name);
    }

    [Fact]
    public void UnreadableMessageIsMalformed()
    {
        AgentRows agent = Agent();
        Assert.Throws<MalformedRecordException>(() => agent.Add(Record([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13], outgoing: true, cookie: 1, bootNs: 1)));
        Assert.Throws<MalformedRecordException>(() => agent.Add(new byte[10]));
        Assert.Equal(0, agent.Batch.Count);
        Assert.Equal(0, agent.Batch.Length);
    }

    [Fact]
    public unsafe void QueryKeyMirrorMatchesTheCompiledStruct()
    {
        // The agent looks queries up in the kernel's dns_queries map with this struct as the key.
        Btf btf = TestGadgets.Get("dns").ReadObjectInfo().Btf;
        Assert.True(btf.TryFindType("dns_query_key", BtfKind.Struct, out BtfType? key));

        Assert.Equal(key.Size, sizeof(DnsQueryKey));
        Assert.Equal(Offset(key, "socket_cookie"), (int)System.Runtime.InteropServices.Marshal.OffsetOf<DnsQueryKey>(nameof(DnsQueryKey.SocketCookie)));
        Assert.Equal(Offset(key, "dns_id"), (int)System.Runtime.InteropServices.Marshal.OffsetOf<DnsQueryKey>(nameof(DnsQueryKey.DnsId)));

        static int Offset(BtfType type, string member) => type.Members.Single(m => m.Name == member).BitOffset / 8;
    }

    internal static AgentRows Agent(string? names = null, string? responseTimeoutMs = null)
    {
        var request = new TraceRequest { Gadget = "dns" };
        request.Parameters[DnsGadget.ResponseTimeoutParameter] = responseTimeoutMs ?? ((long)Timeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        if (names is not null)
        {
            request.Parameters[DnsGadget.NameParameter] = names;
        }

        return new AgentRows(TestGadgets.Get("dns"), request);
    }

    /// <summary>A ring record as bpf/dns writes it: the captured message ends the record.</summary>
    internal static byte[] Record(byte[] message, bool outgoing, ulong cookie, ulong bootNs, ulong latencyNs = 0, uint? messageLength = null)
    {
        IPAddress local = IPAddress.Parse("127.0.0.1"), server = IPAddress.Parse("127.0.78.1");
        ushort id = message.Length >= 2 ? (ushort)((message[0] << 8) | message[1]) : (ushort)0;
        var builder = new RecordBuilder(TestGadgets.Get("dns"))
            .Set("timestamp", (long)bootNs)
            .Set("proc.pid", 4242)
            .Set("proc.tid", 4243)
            .SetString("proc.comm", "dig")
            .SetMember("__socket_cookie", (long)cookie)
            .Set("latency", (long)latencyNs)
            .SetEndpoint("src", outgoing ? local : server, outgoing ? (ushort)40000 : (ushort)53, 17)
            .SetEndpoint("dst", outgoing ? server : local, outgoing ? (ushort)53 : (ushort)40000, 17)
            .Set("id", id)
            .Set("pkt_type", outgoing ? PacketOutgoing : PacketHost)
            .Set("qr", message.Length >= 3 ? message[2] >> 7 : 0)
            .Set("protocol", 17)
            .SetMember("__flags", FlagAttributed)
            .SetMember("__msg_len", messageLength ?? (uint)message.Length)
            .SetMember("__data_len", message.Length);
        builder.SetBytes("__data", message);
        return builder.EndInTail(message.Length).Build();
    }
}

using System.Net;
using Gadget.Tests.Kernel;
using Xunit;

namespace Gadget.Tests.Dns;

/// <summary>
/// The dns gadget against real servers and clients on loopback: a dnsmasq (A/AAAA, NXDOMAIN,
/// REFUSED), a responder that answers after an injected delay or with SERVFAIL, a listener that
/// never answers. One trace runs the whole scenario (loading the programs is the slow part); the
/// tests assert on what it captured.
/// </summary>
public sealed class HostDnsScenario : IDisposable
{
    public static readonly IPAddress Dnsmasq = IPAddress.Parse("127.0.78.1");
    public static readonly IPAddress Silent = IPAddress.Parse("127.0.78.2");
    public static readonly IPAddress Responder = IPAddress.Parse("127.0.78.3");
    public static readonly TimeSpan ResponseTimeout = TimeSpan.FromSeconds(1);

    private readonly Lazy<Result> _result;

    public HostDnsScenario() => _result = new Lazy<Result>(Run);

    public Result Captured => _result.Value;

    public void Dispose()
    {
    }

    private static Result Run()
    {
        System.Diagnostics.Process? dnsmasq = null;
        try
        {
            dnsmasq = Processes.StartDnsmasq([Dnsmasq]);
            using var responder = new TestResponder(Responder, silent: false);
            using var silent = new TestResponder(Silent, silent: true);
            using DnsCapture capture = DnsCapture.Start(ResponseTimeout);

            var clients = new Dictionary<string, int>
            {
                ["A"] = Dig(Dnsmasq, "known.test", "A"),
                ["AAAA"] = Dig(Dnsmasq, "known.test", "AAAA"),
                ["NXDomain"] = Dig(Dnsmasq, "nx.test", "A"),
                ["Refused"] = Dig(Dnsmasq, "refused.test", "A"),
                ["ServFail"] = Dig(Responder, "servfail.test", "A"),
                ["Slow"] = Dig(Responder, "slow.test", "A"),
                ["Tcp"] = Dig(Dnsmasq, "known.test", "A", "+tcp"),
                ["Silent"] = Dig(Silent, "silent.test", "A"),
            };

            IReadOnlyList<DnsEvent> events = capture.WaitFor(e => e.Rcode == DnsResponseCode.NoResponse && e.Name == "silent.test.", TimeSpan.FromSeconds(15), "the unanswered query");
            Thread.Sleep(ResponseTimeout + TimeSpan.FromMilliseconds(300)); // any wrong NoResponse would be due by now
            events = capture.Events;
            return new Result(
                [.. events.Where(e => e.Name.EndsWith(".test.", StringComparison.Ordinal) && InTestRange(e))],
                clients,
                dnsmasq.Id,
                new Dictionary<ushort, TimeSpan>(responder.Held));
        }
        finally
        {
            Processes.Stop(dnsmasq);
        }
    }

    private static bool InTestRange(DnsEvent e)
        => e.Src.Address.ToString().StartsWith("127.0.78.", StringComparison.Ordinal) || e.Dst.Address.ToString().StartsWith("127.0.78.", StringComparison.Ordinal);

    private static int Dig(IPAddress server, string name, string type, string? option = null)
    {
        string[] arguments = [$"@{server}", "+tries=1", "+timeout=1", type, name, .. option is null ? Array.Empty<string>() : [option]];
        return Processes.Run("dig", arguments).Pid;
    }

    public sealed record Result(IReadOnlyList<DnsEvent> Events, IReadOnlyDictionary<string, int> Clients, int DnsmasqPid, IReadOnlyDictionary<ushort, TimeSpan> Held)
    {
        public IEnumerable<DnsEvent> Of(string client) => Events.Where(e => e.Pid == Clients[client]);

        public DnsEvent Query(string client, IpProtocol protocol = IpProtocol.Udp)
            => Single(Of(client).Where(e => e.Qr == DnsQr.Query && e.PacketType == DnsPacketType.Outgoing && e.Rcode == DnsResponseCode.NoError && e.Protocol == protocol), client + " query");

        public DnsEvent Response(string client, IpProtocol protocol = IpProtocol.Udp)
            => Single(Of(client).Where(e => e.Qr == DnsQr.Response && e.PacketType == DnsPacketType.Host && e.Protocol == protocol), client + " response");

        private DnsEvent Single(IEnumerable<DnsEvent> matches, string what)
        {
            DnsEvent[] found = [.. matches];
            return found.Length == 1
                ? found[0]
                : throw new Xunit.Sdk.XunitException($"Expected one {what}, found {found.Length}. Captured: {string.Join("; ", Events.Select(DnsCapture.Describe))}");
        }
    }
}

[Collection(KernelTests.Name)]
public sealed class DnsKernelTests(HostDnsScenario scenario) : IClassFixture<HostDnsScenario>
{
    [KernelFact]
    public void QueryCarriesProcessQuestionAndEndpoints()
    {
        HostDnsScenario.Result r = scenario.Captured;
        DnsEvent query = r.Query("A");

        Assert.Equal(r.Clients["A"], query.Pid);
        Assert.True(query.Tid > 0);
        Assert.True(query.Comm is "dig" || query.Comm.StartsWith("isc-", StringComparison.Ordinal), query.Comm);
        Assert.Equal(0u, query.Uid);
        Assert.NotEqual(0ul, query.MountNsId);
        Assert.Equal(DnsQr.Query, query.Qr);
        Assert.Equal(DnsPacketType.Outgoing, query.PacketType);
        Assert.Equal(DnsQueryType.A, query.QType);
        Assert.Equal("known.test.", query.Name);
        Assert.Equal(DnsResponseCode.NoError, query.Rcode);
        Assert.Equal(0, query.NumAnswers);
        Assert.Empty(query.Addresses);
        Assert.Equal(HostDnsScenario.Dnsmasq, query.Nameserver);
        Assert.Equal(new IPEndPoint(HostDnsScenario.Dnsmasq, 53), query.Dst);
        Assert.True(IPAddress.IsLoopback(query.Src.Address));
        Assert.Equal(IpProtocol.Udp, query.Protocol);
        Assert.Null(query.Latency);
        Assert.Equal(DnsCapture.NodeName, query.Node);
        Assert.Null(query.Namespace);
        Assert.Null(query.Pod);
        Assert.Null(query.Container);
        Assert.InRange(query.Timestamp, DateTime.Now.AddMinutes(-5), DateTime.Now);
    }

    [KernelFact]
    public void ResponseIsAttributedToTheQueryingProcessWithAddressesAndLatency()
    {
        HostDnsScenario.Result r = scenario.Captured;
        DnsEvent query = r.Query("A");
        DnsEvent response = r.Response("A");

        Assert.Equal(query.Pid, response.Pid);
        Assert.Equal(query.Comm, response.Comm);
        Assert.Equal(query.Id, response.Id);
        Assert.Equal(DnsQr.Response, response.Qr);
        Assert.Equal(DnsPacketType.Host, response.PacketType);
        Assert.Equal(DnsResponseCode.NoError, response.Rcode);
        Assert.Equal(1, response.NumAnswers);
        Assert.Equal([IPAddress.Parse("127.1.2.3")], response.Addresses);
        Assert.Equal(HostDnsScenario.Dnsmasq, response.Nameserver);
        Assert.Equal(query.Dst, response.Src);
        Assert.Equal(query.Src, response.Dst);
        Assert.NotNull(response.Latency);
        Assert.InRange(response.Latency!.Value, TimeSpan.FromTicks(1), TimeSpan.FromSeconds(1));
        Assert.InRange(response.Timestamp, query.Timestamp, query.Timestamp + TimeSpan.FromSeconds(1));
    }

    [KernelFact]
    public void AaaaAnswerIsAnIPv6Address()
    {
        DnsEvent response = scenario.Captured.Response("AAAA");
        Assert.Equal(DnsQueryType.AAAA, response.QType);
        Assert.Equal([IPAddress.Parse("fd00::1:2:3")], response.Addresses);
    }

    [KernelFact]
    public void ServerSideIsSeenToo()
    {
        HostDnsScenario.Result r = scenario.Captured;
        DnsEvent query = r.Query("A");
        DnsEvent served = Assert.Single(r.Events, e => e.Pid == r.DnsmasqPid && e.Qr == DnsQr.Response && e.PacketType == DnsPacketType.Outgoing && e.Id == query.Id && e.Protocol == IpProtocol.Udp);
        Assert.Equal("dnsmasq", served.Comm);
        Assert.Equal(query.Src, served.Dst);
        Assert.Null(served.Latency);
    }

    [KernelFact]
    public void ErrorResponsesCarryTheirRcode()
    {
        HostDnsScenario.Result r = scenario.Captured;
        Assert.Equal(DnsResponseCode.NXDomain, r.Response("NXDomain").Rcode);
        Assert.Equal(DnsResponseCode.Refused, r.Response("Refused").Rcode);
        Assert.Equal(DnsResponseCode.ServFail, r.Response("ServFail").Rcode);
        Assert.Equal(HostDnsScenario.Responder, r.Response("ServFail").Nameserver);
    }

    [KernelFact]
    public void LatencyMatchesTheInjectedDelay()
    {
        HostDnsScenario.Result r = scenario.Captured;
        DnsEvent response = r.Response("Slow");
        TimeSpan held = r.Held[response.Id];
        TimeSpan latency = response.Latency!.Value;

        Assert.True(latency >= TestResponder.Delay, $"latency {latency.TotalMilliseconds} ms is below the {TestResponder.Delay.TotalMilliseconds} ms delay");
        Assert.True((latency - held).Duration() <= TimeSpan.FromMilliseconds(5),
            $"latency {latency.TotalMilliseconds:F3} ms, the responder held the query {held.TotalMilliseconds:F3} ms");
    }

    [KernelFact]
    public void TcpQueryAndResponseAreCaptured()
    {
        HostDnsScenario.Result r = scenario.Captured;
        DnsEvent query = r.Query("Tcp", IpProtocol.Tcp);
        DnsEvent response = r.Response("Tcp", IpProtocol.Tcp);

        Assert.Equal("known.test.", query.Name);
        Assert.Equal(r.Clients["Tcp"], response.Pid);
        Assert.Equal([IPAddress.Parse("127.1.2.3")], response.Addresses);
        Assert.NotNull(response.Latency);
    }

    [KernelFact]
    public void UnansweredQueryIsReportedOnceAsNoResponse()
    {
        HostDnsScenario.Result r = scenario.Captured;
        DnsEvent query = r.Query("Silent");
        DnsEvent unanswered = Assert.Single(r.Events, e => e.Rcode == DnsResponseCode.NoResponse);

        Assert.Equal(query.Pid, unanswered.Pid);
        Assert.Equal(query.Id, unanswered.Id);
        Assert.Equal("silent.test.", unanswered.Name);
        Assert.Equal(DnsQr.Query, unanswered.Qr);
        Assert.Equal(DnsPacketType.Outgoing, unanswered.PacketType);
        Assert.Equal(HostDnsScenario.Silent, unanswered.Nameserver);
        Assert.Equal(query.Timestamp, unanswered.Timestamp);
        Assert.Null(unanswered.Latency);
    }

    [KernelFact]
    public void RcodeNotZeroYieldsExactlyTheFailures()
    {
        HostDnsScenario.Result r = scenario.Captured;
        DnsEvent[] clientSide = [.. r.Events.Where(e => r.Clients.Values.Contains(e.Pid))];

        // What `Trace-GadgetDns | Where Rcode -ne 0` keeps, on the clients' side.
        string[] failures = [.. clientSide.Where(e => e.Rcode != 0).Select(e => $"{e.Name} {e.Rcode}").Order(StringComparer.Ordinal)];

        Assert.Equal(["nx.test. NXDomain", "refused.test. Refused", "servfail.test. ServFail", "silent.test. NoResponse"], failures);
        Assert.All(clientSide.Where(e => e.Name is "known.test." or "slow.test."), e => Assert.Equal(DnsResponseCode.NoError, e.Rcode));
    }
}

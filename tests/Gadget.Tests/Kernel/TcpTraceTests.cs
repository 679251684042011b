using System.Net;
using Gadget.Agent.Runtime;
using Gadget.Protocol.V1;
using Xunit;

namespace Gadget.Tests.Kernel;

/// <summary>
/// The tcp gadget loaded into the real kernel, watching a Python child connect, accept and close on
/// the loopback of a network namespace of its own, over IPv4 and IPv6, then connect to a port
/// where nothing listens, blocking and not, and to a network the namespace has no route to.
/// </summary>
[Collection(KernelTests.Name)]
public sealed class TcpTraceTests
{
    private const int Port = 5000;
    private const int ClosedPort = 5001;
    private static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Connects to each listener, accepts, closes; prints family and client port; then two refused connects and one without a route.</summary>
    private const string Script = """
        import socket, sys, select, errno
        port, closed = int(sys.argv[1]), int(sys.argv[2])
        for family, address in ((socket.AF_INET, '127.0.0.1'), (socket.AF_INET6, '::1')):
            listener = socket.socket(family, socket.SOCK_STREAM)
            listener.bind((address, port))
            listener.listen()
            client = socket.socket(family, socket.SOCK_STREAM)
            client.connect((address, port))
            server, _ = listener.accept()
            print(family.name, client.getsockname()[1], flush=True)
            client.close()
            server.recv(1)
            server.close()
            listener.close()
        blocking = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            blocking.connect(('127.0.0.1', closed))
        except ConnectionRefusedError:
            print('refused', flush=True)
        waiting = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        waiting.setblocking(False)
        print('async', waiting.connect_ex(('::1', closed)), flush=True)
        select.select([], [waiting], [], 5)
        print('async-error', waiting.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR), flush=True)
        unreachable = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            unreachable.connect(('10.255.255.1', 80))
        except OSError as error:
            print('unreachable', error.errno, flush=True)
        """;

    [KernelFact]
    public async Task ConnectAcceptAndCloseOverIPv4AndIPv6InANetworkNamespace()
    {
        using TraceRun run = PythonChild.Start("tcp", new TraceRequest());
        var reader = new RunReader(run);
        (int pid, string[] output) = PythonChild.Run(Script, ["-n"], Port.ToString(System.Globalization.CultureInfo.InvariantCulture), ClosedPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
        List<TcpEvent> all = await reader.ReadUntilAsync<TcpEvent>(e => e.Pid == pid && e.Error == Errno.ENETUNREACH, EventTimeout);
        List<TcpEvent> events = [.. all.Where(e => e.Pid == pid)];

        foreach ((IpFamily family, IPAddress loopback, string line) in new[] { (IpFamily.IPv4, IPAddress.Loopback, output[0]), (IpFamily.IPv6, IPAddress.IPv6Loopback, output[1]) })
        {
            int clientPort = int.Parse(line.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
            var client = new IPEndPoint(loopback, clientPort);
            var server = new IPEndPoint(loopback, Port);
            List<TcpEvent> mine = [.. events.Where(e => e.Family == family && e.Error == Errno.None)];

            TcpEvent connect = Assert.Single(mine, e => e.Type == TcpEventType.Connect);
            Assert.Equal(client, connect.Source);
            Assert.Equal(server, connect.Destination);
            TcpEvent accept = Assert.Single(mine, e => e.Type == TcpEventType.Accept);
            Assert.Equal(server, accept.Source);
            Assert.Equal(client, accept.Destination);
            // The client closes first (FIN_WAIT1), the server after the client's FIN (LAST_ACK).
            Assert.Single(mine, e => e.Type == TcpEventType.Close && e.Source.Equals(client) && e.Destination.Equals(server));
            Assert.Single(mine, e => e.Type == TcpEventType.Close && e.Source.Equals(server) && e.Destination.Equals(client));
            Assert.Equal(4, mine.Count);
        }

        Assert.All(events, e =>
        {
            Assert.Equal("python3", e.Comm);
            Assert.Equal(pid, e.Tid);
            Assert.NotEqual(HostNetNs, e.NetNsId); // the namespace the child made
            Assert.InRange(e.Timestamp, DateTime.Now.AddMinutes(-1), DateTime.Now);
        });
        Assert.Single(events.Select(e => e.NetNsId).Distinct());
    }

    [KernelFact]
    public async Task FailedConnectsAreReportedOnceWithTheirError()
    {
        using TraceRun run = PythonChild.Start("tcp", new TraceRequest());
        var reader = new RunReader(run);
        (int pid, string[] output) = PythonChild.Run(Script, ["-n"], Port.ToString(System.Globalization.CultureInfo.InvariantCulture), ClosedPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
        List<TcpEvent> all = await reader.ReadUntilAsync<TcpEvent>(e => e.Pid == pid && e.Error == Errno.ENETUNREACH, EventTimeout);
        Assert.Contains("refused", output);
        Assert.Contains("async 115", output); // EINPROGRESS
        Assert.Contains("async-error 111", output); // ECONNREFUSED, later
        Assert.Contains("unreachable 101", output); // ENETUNREACH, before any SYN

        List<TcpEvent> failed = [.. all.Where(e => e.Pid == pid && e.Error != Errno.None)];
        Assert.Equal(3, failed.Count);
        TcpEvent blocking = Assert.Single(failed, e => e.Family == IpFamily.IPv4 && e.Error == Errno.ECONNREFUSED);
        Assert.Equal(TcpEventType.Connect, blocking.Type);
        Assert.Equal(Errno.ECONNREFUSED, blocking.Error);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, ClosedPort), blocking.Destination);
        TcpEvent nonBlocking = Assert.Single(failed, e => e.Family == IpFamily.IPv6);
        Assert.Equal(TcpEventType.Connect, nonBlocking.Type);
        Assert.Equal(Errno.ECONNREFUSED, nonBlocking.Error);
        Assert.Equal(new IPEndPoint(IPAddress.IPv6Loopback, ClosedPort), nonBlocking.Destination);
        // Reported by the connect's exit: the destination as passed.
        TcpEvent unreachable = Assert.Single(failed, e => e.Error == Errno.ENETUNREACH);
        Assert.Equal(TcpEventType.Connect, unreachable.Type);
        Assert.Equal(IpFamily.IPv4, unreachable.Family);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("10.255.255.1"), 80), unreachable.Destination);
    }

    [KernelFact]
    public async Task TypeAndPortFiltersRunInTheKernel()
    {
        // Closes on the listeners' port only: no connects, no accepts, nothing on the refused port.
        using TraceRun run = PythonChild.Start("tcp", new TraceRequest { Parameters = { ["types"] = "4", ["port"] = Port.ToString(System.Globalization.CultureInfo.InvariantCulture) } });
        var reader = new RunReader(run);
        (int pid, _) = PythonChild.Run(Script, ["-n"], Port.ToString(System.Globalization.CultureInfo.InvariantCulture), ClosedPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
        List<TcpEvent> all = await reader.ReadUntilAsync<TcpEvent>(e => e.Pid == pid && e.Family == IpFamily.IPv6 && e.Source.Port == Port, EventTimeout);

        List<TcpEvent> events = [.. all.Where(e => e.Pid == pid)];
        Assert.Equal(4, events.Count);
        Assert.All(events, e => Assert.Equal(TcpEventType.Close, e.Type));
        Assert.All(all, e => Assert.True(e.Source.Port == Port || e.Destination.Port == Port, $"{e.Source} {e.Destination}"));
        Assert.All(all, e => Assert.Equal(TcpEventType.Close, e.Type));
    }

    private static ulong HostNetNs => ulong.Parse(new FileInfo("/proc/self/ns/net").LinkTarget!.Split('[', ']')[1], System.Globalization.CultureInfo.InvariantCulture);
}

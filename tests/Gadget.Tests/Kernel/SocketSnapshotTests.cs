using System.Diagnostics;
using System.Globalization;
using System.Net;
using Gadget.Agent.Containers;
using Gadget.Agent.Runtime;
using Gadget.Protocol.V1;
using Gadget.Tests.Gadgets;
using Xunit;

namespace Gadget.Tests.Kernel;

/// <summary>
/// The socket snapshot run in the real kernel, against ss taken in the same network namespace: a
/// python3 in a namespace of its own holds a listener, both ends of a TCP connection, a connection
/// in TimeWait (which no process holds), and UDP sockets unconnected and connected, over IPv4 and
/// IPv6.
/// </summary>
[Collection(KernelTests.Name)]
public sealed class SocketSnapshotTests : IDisposable
{
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(20);

    private const string Script = """
        import socket, time
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(('127.0.0.1', 7000))
        listener.listen()
        client = socket.create_connection(('127.0.0.1', 7000))
        server, _ = listener.accept()
        closing = socket.create_connection(('127.0.0.1', 7000))
        closed, _ = listener.accept()
        closing.close()
        closed.recv(1)
        closed.close()
        listener6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        listener6.bind(('::1', 7001))
        listener6.listen()
        unconnected = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        unconnected.bind(('::1', 5353))
        connected = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        connected.connect(('127.0.0.1', 5353))
        print('ready', flush=True)
        time.sleep(120)
        """;

    private readonly Process _child;

    public SocketSnapshotTests()
    {
        var start = new ProcessStartInfo("/usr/bin/unshare") { RedirectStandardOutput = true };
        foreach (string argument in new[] { "-n", "/bin/sh", "-c", "ip link set lo up && exec \"$0\" \"$@\"", PythonChild.Python, "-c", Script })
        {
            start.ArgumentList.Add(argument);
        }

        _child = Process.Start(start)!;
        Assert.Equal("ready", _child.StandardOutput.ReadLine());
    }

    public void Dispose()
    {
        _child.Kill();
        _child.WaitForExit();
        _child.Dispose();
    }

    private ulong ChildNetNs => ProcessNamespaces.Inode(_child.Id, "net");

    [KernelFact]
    public async Task ListsTheSocketsOfEveryNetworkNamespaceAsSsDoes()
    {
        string[] expected = SsRows(_child.Id);
        List<SocketEntry> entries = await SnapshotAsync(new TraceRequest());
        List<SocketEntry> mine = [.. entries.Where(e => e.NetNsId == ChildNetNs)];

        Assert.Equal(expected, mine.Select(Row).Order(StringComparer.Ordinal).ToArray());
        Assert.Equal(7, mine.Count);

        // Every socket but the one in TimeWait is the child's; that one carries the child's mount
        // namespace all the same, so a container's sockets keep its pod.
        SocketEntry timeWait = Assert.Single(mine, e => e.State == SocketState.TimeWait);
        Assert.Equal(0, timeWait.Pid);
        Assert.Equal(0ul, timeWait.Inode);
        Assert.Equal(ProcessNamespaces.Inode(_child.Id, "mnt"), timeWait.MountNsId);
        Assert.All(mine.Where(e => e != timeWait), e =>
        {
            Assert.Equal(_child.Id, e.Pid);
            Assert.Equal("python3", e.Comm);
            Assert.Equal(Environment.ProcessId, e.Ppid);
            Assert.NotEqual(0ul, e.Inode);
            Assert.Equal(ProcessNamespaces.Inode(_child.Id, "mnt"), e.MountNsId);
        });
        Assert.Equal(ProcSocketInodes(_child.Id), mine.Where(e => e.Inode != 0).Select(e => e.Inode).Order().ToArray());

        SocketEntry listener6 = Assert.Single(mine, e => e.State == SocketState.Listen && e.Local.Port == 7001);
        Assert.Equal(new IPEndPoint(IPAddress.IPv6Loopback, 7001), listener6.Local);
        Assert.Equal(SocketProtocol.Tcp, listener6.Protocol);
        SocketEntry udp = Assert.Single(mine, e => e.Protocol == SocketProtocol.Udp && e.State == SocketState.Established);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 5353), udp.Remote);

        // The host's namespace is visited too: the sockets ss listed before and after the snapshot.
        string[] hostBefore = SsRows(Environment.ProcessId);
        string[] hostNow = [.. (await SnapshotAsync(new TraceRequest())).Where(e => e.NetNsId == ProcessNamespaces.Inode(Environment.ProcessId, "net")).Select(Row)];
        string[] hostAfter = SsRows(Environment.ProcessId);
        Assert.Empty(hostBefore.Intersect(hostAfter).Where(row => !row.Contains("TimeWait", StringComparison.Ordinal)).Except(hostNow));
    }

    [KernelFact]
    public async Task ProtocolAndStateFilterInTheKernelAndProcessFiltersInTheAgent()
    {
        List<SocketEntry> udp = await SnapshotAsync(new TraceRequest { Parameters = { ["protocol"] = "17" } });
        Assert.NotEmpty(udp);
        Assert.All(udp, e => Assert.Equal(SocketProtocol.Udp, e.Protocol));
        Assert.Equal(2, udp.Count(e => e.NetNsId == ChildNetNs));

        string listenAndTimeWait = ((1 << (int)SocketState.Listen) | (1 << (int)SocketState.TimeWait)).ToString(CultureInfo.InvariantCulture);
        List<SocketEntry> states = await SnapshotAsync(new TraceRequest { Parameters = { ["states"] = listenAndTimeWait } });
        Assert.All(states, e => Assert.Contains(e.State, new[] { SocketState.Listen, SocketState.TimeWait }));
        Assert.Equal(3, states.Count(e => e.NetNsId == ChildNetNs));

        List<SocketEntry> byPid = await SnapshotAsync(new TraceRequest { Filter = new ProcessFilter { Pids = { (uint)_child.Id } } });
        Assert.Equal(6, byPid.Count);
        Assert.All(byPid, e => Assert.Equal(_child.Id, e.Pid));

        List<SocketEntry> byComm = await SnapshotAsync(new TraceRequest { Filter = new ProcessFilter { Comm = "python3" } });
        Assert.All(byComm, e => Assert.Equal("python3", e.Comm));
        Assert.Equal(6, byComm.Count(e => e.Pid == _child.Id));
    }

    private static async Task<List<SocketEntry>> SnapshotAsync(TraceRequest request)
    {
        request.Gadget = "socket";
        using TraceRun run = TraceRun.Start(TestGadgets.Get("socket"), request, new TraceSettings(), new ContainerCollection());
        var reader = new RunReader(run);
        List<SocketEntry> entries = await reader.ReadUntilAsync<SocketEntry>(_ => false, ReadTimeout);
        Assert.True(run.Batches.Completion.IsCompleted, "The snapshot did not end by itself.");
        return entries;
    }

    /// <summary>A socket as a comparable line: protocol, state, both ends.</summary>
    private static string Row(SocketEntry entry) => $"{entry.Protocol} {entry.State} {entry.Local} {entry.Remote}";

    /// <summary>ss -tuan in the network namespace of <paramref name="pid"/>, as <see cref="Row"/> lines.</summary>
    private static string[] SsRows(int pid)
    {
        var start = new ProcessStartInfo("nsenter") { RedirectStandardOutput = true };
        foreach (string argument in new[] { "-t", pid.ToString(CultureInfo.InvariantCulture), "-n", "ss", "-tuanH" })
        {
            start.ArgumentList.Add(argument);
        }

        using Process ss = Process.Start(start)!;
        string output = ss.StandardOutput.ReadToEnd();
        ss.WaitForExit();
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(SsRow).Order(StringComparer.Ordinal)];
    }

    private static string SsRow(string line)
    {
        string[] columns = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        string protocol = columns[0] == "tcp" ? "Tcp" : "Udp";
        string state = columns[1] switch
        {
            "LISTEN" => "Listen",
            "ESTAB" => "Established",
            "TIME-WAIT" => "TimeWait",
            "UNCONN" => "Unconnected",
            "SYN-SENT" => "SynSent",
            "SYN-RECV" => "SynRecv",
            "FIN-WAIT-1" => "FinWait1",
            "FIN-WAIT-2" => "FinWait2",
            "CLOSE-WAIT" => "CloseWait",
            "LAST-ACK" => "LastAck",
            "CLOSING" => "Closing",
            var other => other,
        };
        return $"{protocol} {state} {EndPoint(columns[4])} {EndPoint(columns[5])}";
    }

    /// <summary>ss's "127.0.0.1:53", "[::1]:53", "0.0.0.0:*" as IPEndPoint prints it.</summary>
    private static string EndPoint(string text)
    {
        int colon = text.LastIndexOf(':');
        string address = text[..colon].Trim('[', ']');
        string port = text[(colon + 1)..];
        int percent = address.IndexOf('%');
        return new IPEndPoint(IPAddress.Parse(percent < 0 ? address : address[..percent]), port == "*" ? 0 : int.Parse(port, CultureInfo.InvariantCulture)).ToString();
    }

    private static ulong[] ProcSocketInodes(int pid)
        => [.. Directory.GetFileSystemEntries($"/proc/{pid}/fd")
            .Select(fd => OpenSockets.ParseSocketInode(System.Text.Encoding.UTF8.GetBytes(ProcessNamespaces.ReadLink(fd) ?? string.Empty)))
            .OfType<ulong>()
            .Order()];
}

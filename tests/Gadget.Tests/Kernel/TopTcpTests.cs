using System.Diagnostics;
using System.Net;
using Gadget.Agent.Containers;
using Gadget.Agent.Decoding;
using Gadget.Agent.Runtime;
using Gadget.Protocol.V1;
using Gadget.Tests.Gadgets;
using Gadget.Tracing;
using Google.Protobuf;
using Xunit;

namespace Gadget.Tests.Kernel;

/// <summary>
/// The TCP top loaded into the real kernel: a process in a network namespace the test makes
/// connects to itself over loopback, IPv4 and IPv6, and sends a known number of bytes each way;
/// the window holds both ends of each connection with their bytes.
/// </summary>
[Collection(KernelTests.Name)]
public sealed class TopTcpTests : IDisposable
{
    private const int Request = 65536;
    private const int Response = 1000;

    /// <summary>Listens, connects to itself, sends Request bytes and answers Response bytes, per family; prints each pair of ports.</summary>
    private const string Script = """
        import socket, sys
        sys.stdin.readline()
        for family, host in ((socket.AF_INET, '127.0.0.1'), (socket.AF_INET6, '::1')):
            server = socket.socket(family, socket.SOCK_STREAM)
            server.bind((host, 0))
            server.listen(1)
            client = socket.create_connection((host, server.getsockname()[1]))
            peer, _ = server.accept()
            client.sendall(b'q' * 65536)
            got = 0
            while got < 65536:
                got += len(peer.recv(65536))
            peer.sendall(b'r' * 1000)
            got = 0
            while got < 1000:
                got += len(client.recv(1000))
            print(host, server.getsockname()[1], client.getsockname()[1], flush=True)
            client.close(); peer.close(); server.close()
        """;

    private readonly string _namespace = $"gadget-top-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}";

    public TopTcpTests()
    {
        Run("ip", "netns", "add", _namespace);
        Run("ip", "-n", _namespace, "link", "set", "lo", "up");
    }

    [KernelFact]
    public void AWindowHoldsBothEndsOfLoopbackConnectionsWithTheirBytes()
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string argument in new[] { "netns", "exec", _namespace, "python3", "-c", Script })
        {
            start.ArgumentList.Add(argument);
        }

        using Process talker = Process.Start(start)!;
        // ip netns exec becomes python3: the pid stays.
        using TopRun run = TopRun.Start(TestGadgets.Get("top_tcp"), new TraceRequest { Gadget = "top_tcp", Filter = new ProcessFilter { Pid = (uint)talker.Id } },
            new TraceSettings(), new ContainerCollection());
        talker.StandardInput.WriteLine("go");
        talker.StandardInput.Flush();
        string[] lines = [talker.StandardOutput.ReadLine()!, talker.StandardOutput.ReadLine()!];
        Assert.True(talker.WaitForExit(10_000));
        Assert.Equal(0, talker.ExitCode);

        List<TopTcpRow> rows = Rows(run);
        foreach (string line in lines)
        {
            string[] parts = line.Split(' ');
            IPAddress address = IPAddress.Parse(parts[0]);
            var server = new IPEndPoint(address, int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
            var client = new IPEndPoint(address, int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture));

            TopTcpRow clientEnd = Assert.Single(rows, r => r.Source.Equals(client) && r.Destination.Equals(server));
            Assert.Equal(((ulong)Request, (ulong)Response), (clientEnd.Sent, clientEnd.Received));
            TopTcpRow serverEnd = Assert.Single(rows, r => r.Source.Equals(server) && r.Destination.Equals(client));
            Assert.Equal(((ulong)Response, (ulong)Request), (serverEnd.Sent, serverEnd.Received));
            Assert.All([clientEnd, serverEnd], r => Assert.Equal((talker.Id, "python3"), (r.Pid, r.Comm)));
        }

        Assert.Equal(4, rows.Count);
        Assert.Empty(Rows(run)); // the window emptied the map
    }

    [KernelFact]
    public void TheFamilyParameterRunsInTheKernel()
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string argument in new[] { "netns", "exec", _namespace, "python3", "-c", Script })
        {
            start.ArgumentList.Add(argument);
        }

        using Process talker = Process.Start(start)!;
        using TopRun run = TopRun.Start(TestGadgets.Get("top_tcp"),
            new TraceRequest { Gadget = "top_tcp", Filter = new ProcessFilter { Pid = (uint)talker.Id }, Parameters = { ["family"] = "6" } },
            new TraceSettings(), new ContainerCollection());
        talker.StandardInput.WriteLine("go");
        talker.StandardInput.Flush();
        Assert.True(talker.WaitForExit(10_000));

        List<TopTcpRow> rows = Rows(run);
        Assert.Equal(2, rows.Count);
        Assert.All(rows, r => Assert.Equal(System.Net.Sockets.AddressFamily.InterNetworkV6, r.Source.AddressFamily));
    }

    public void Dispose() => Run("ip", "netns", "delete", _namespace);

    private static List<TopTcpRow> Rows(TopRun run)
    {
        EventBatch message = run.DrainWindow().ToMessage();
        message.Window = new TopWindow { Index = 1, StartUnixNs = 1, EndUnixNs = 2 };
        var decoder = new TraceReplyDecoder(new EventOrigin("node-a"));
        decoder.Decode(ClientRows.SchemaReply(run.Schema));
        return [.. decoder.Decode(new TraceReply { Batch = message }.ToByteArray()).Window!.Rows.Cast<TopTcpRow>()];
    }

    private static void Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', arguments)}: {error}");
    }
}

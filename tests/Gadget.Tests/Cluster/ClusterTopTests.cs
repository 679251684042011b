using System.Net;
using System.Net.Sockets;
using Gadget.Kubernetes;
using Gadget.KubeStub;
using Gadget.Tests.Kernel;
using Gadget.Tracing;
using TraceOptions = Gadget.Tracing.TraceOptions;
using Xunit;

namespace Gadget.Tests.Cluster;

/// <summary>
/// A top through the stub API server's port-forwards to two real agents on this host (node-a and
/// node-b, so both count the same kernel's traffic): each node's windows arrive whole, with the
/// same indexes, and the client puts each window of both nodes together before it sorts and cuts.
/// </summary>
public sealed class ClusterTopTests : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private KubeApiStub _stub = null!;
    private KubeCluster _cluster = null!;
    private AgentProcess? _agentA;
    private AgentProcess? _agentB;

    public async Task InitializeAsync()
    {
        _stub = await KubeApiStub.StartAsync();
        _cluster = KubeCluster.Open(new KubeConfigSource { KubeConfig = _stub.KubeConfig() });
    }

    public async Task DisposeAsync() => await _stub.DisposeAsync();

    public void Dispose()
    {
        _agentA?.Dispose();
        _agentB?.Dispose();
        _cluster.Dispose();
    }

    [KernelFact]
    public async Task BothNodesWindowsAreMergedSortedAndCut()
    {
        Task<AgentProcess> a = AgentProcess.StartOnPortAsync("node-a");
        Task<AgentProcess> b = AgentProcess.StartOnPortAsync("node-b");
        _agentA = await a;
        _agentB = await b;
        _stub.AddAgentPod("gadget", "node-a", _agentA.Port);
        _stub.AddAgentPod("gadget", "node-b", _agentB.Port);

        IReadOnlyList<AgentPod> pods = await _cluster.FindAgentsAsync("gadget", null, CancellationToken.None);
        var options = new TraceOptions
        {
            Gadget = "top_tcp",
            Interval = TimeSpan.FromSeconds(1),
            MaxWindows = 3,
            Pids = [Environment.ProcessId],
            Containers = ContainerSelection.HostOnly,
        };
        using ClusterTrace top = ClusterTrace.Start([.. pods.Select(p => (p.Node, _cluster.Connect(p)))], options, CancellationToken.None);
        Assert.True(top.Attached.Wait(Wait), "The agents did not attach in time.");

        // Loopback traffic of this process while the windows run: a connection, 40 KiB each way.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using TcpClient server = await listener.AcceptTcpClientAsync();
        var merger = new TopWindowMerger(pods.Select(p => p.Node), top: 3);
        var merged = new List<MergedTopWindow>();
        var windows = new List<TopWindowRows>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!top.IsCompleted && clock.Elapsed < Wait)
        {
            await Exchange(client, server, 40 * 1024);
            while (top.TryTake(out object? item, TimeSpan.FromMilliseconds(50), CancellationToken.None))
            {
                Assert.False(item is NodeFailure or GadgetException, item?.ToString());
                if (item is TopWindowRows window)
                {
                    windows.Add(window);
                    merged.AddRange(merger.Add(window));
                }
            }
        }

        merged.AddRange(merger.Flush());
        Assert.Equal([1ul, 2ul, 3ul], windows.Where(w => w.Node == "node-a").Select(w => w.Index));
        Assert.Equal([1ul, 2ul, 3ul], windows.Where(w => w.Node == "node-b").Select(w => w.Index));
        Assert.Equal([1ul, 2ul, 3ul], merged.Select(w => w.Index));
        foreach (MergedTopWindow window in merged)
        {
            int total = windows.Where(w => w.Index == window.Index).Sum(w => w.Rows.Count);
            Assert.Equal(total, window.TotalRows);
            Assert.Equal(Math.Min(3, total), window.Rows.Count);
            ulong[] sent = [.. window.Rows.Select(r => ((TopTcpRow)r.Row).Sent)];
            Assert.Equal(sent.OrderDescending(), sent);
        }

        // The nodes' windows are not aligned in time, so their counts differ; but each window of
        // this connection's traffic has rows of both nodes in one list, the cut taken over both.
        var all = new TopWindowMerger(["node-a", "node-b"], top: 0);
        List<MergedTopWindow> whole = [.. windows.SelectMany(all.Add), .. all.Flush()];
        Assert.Contains(whole, w => w.Rows.Select(r => r.Row.Node).Distinct().Count() == 2);
        Assert.All(whole, w => Assert.Equal(w.Rows.Select(r => ((TopTcpRow)r.Row).Sent).OrderDescending(), w.Rows.Select(r => ((TopTcpRow)r.Row).Sent)));
        Assert.All(top.Statistics, s => Assert.True(s.Final));
    }

    private static async Task Exchange(TcpClient client, TcpClient server, int bytes)
    {
        byte[] data = new byte[bytes];
        await client.GetStream().WriteAsync(data);
        await server.GetStream().ReadExactlyAsync(data);
        await server.GetStream().WriteAsync(data);
        await client.GetStream().ReadExactlyAsync(data);
    }
}

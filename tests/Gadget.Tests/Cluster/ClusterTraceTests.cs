using System.Diagnostics;
using Gadget.Connection;
using Gadget.KubeStub;
using Gadget.Kubernetes;
using Gadget.Tests.Kernel;
using Gadget.Tracing;
using TraceOptions = Gadget.Tracing.TraceOptions;
using Xunit;

namespace Gadget.Tests.Cluster;

/// <summary>
/// Traces through the stub API server's port-forwards to two real agents on this host, started as
/// they run in a pod (--no-socket --listen-port) with different node names.
/// </summary>
public sealed class ClusterTraceTests : IAsyncLifetime, IDisposable
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

    private async Task StartAgentsAsync()
    {
        if (!KernelFactAttribute.IsCi && !Environment.IsPrivilegedProcess)
        {
            return;
        }

        Task<AgentProcess> a = AgentProcess.StartOnPortAsync("node-a");
        Task<AgentProcess> b = AgentProcess.StartOnPortAsync("node-b");
        _agentA = await a;
        _agentB = await b;
        _stub.AddAgentPod("gadget", "node-a", _agentA.Port);
        _stub.AddAgentPod("gadget", "node-b", _agentB.Port);
    }

    private async Task<ClusterTrace> StartTraceAsync(string marker)
    {
        IReadOnlyList<AgentPod> pods = await _cluster.FindAgentsAsync("gadget", null, CancellationToken.None);
        var options = new TraceOptions { Gadget = "exec", Comm = "echo", Containers = ContainerSelection.HostOnly };
        ClusterTrace trace = ClusterTrace.Start([.. pods.Select(p => (p.Node, _cluster.Connect(p)))], options, CancellationToken.None);
        Assert.True(trace.Attached.Wait(Wait), "The agents did not attach in time.");
        return trace;
    }

    /// <summary>Takes items until <paramref name="done"/> holds, running /bin/echo MARKER meanwhile.</summary>
    private static List<object> Collect(ClusterTrace trace, string marker, Func<List<object>, bool> done)
    {
        var items = new List<object>();
        var clock = Stopwatch.StartNew();
        var lastExec = TimeSpan.Zero;
        while (!done(items) && clock.Elapsed < Wait)
        {
            if (clock.Elapsed - lastExec > TimeSpan.FromMilliseconds(300))
            {
                using Process echo = HostProcess.Start("/bin/echo", marker);
                echo.WaitForExit();
                lastExec = clock.Elapsed;
            }

            if (trace.TryTake(out object? item, TimeSpan.FromMilliseconds(100), CancellationToken.None) && item is not null)
            {
                if (item is not ExecEvent exec || exec.Args.Contains(marker))
                {
                    items.Add(item);
                }
            }
        }

        return items;
    }

    private static IEnumerable<string?> NodesOf(List<object> items) => items.OfType<ExecEvent>().Select(e => e.Node).Distinct();

    [KernelFact]
    public async Task EventsOfBothAgentsArriveWithTheirNode()
    {
        await StartAgentsAsync();
        string marker = $"cluster-{Guid.NewGuid():N}";
        using ClusterTrace trace = await StartTraceAsync(marker);
        List<object> items = Collect(trace, marker, found => NodesOf(found).Count() == 2);
        Assert.Equal(["node-a", "node-b"], NodesOf(items).Order());
        Assert.DoesNotContain(items, i => i is NodeFailure or GadgetException);
        Assert.Contains(_stub.Requests, r => r.Contains("/pods/gadget-node-a/portforward?ports=8080", StringComparison.Ordinal));
        Assert.Contains(_stub.Requests, r => r.Contains("/pods/gadget-node-b/portforward?ports=8080", StringComparison.Ordinal));
    }

    [KernelFact]
    public async Task AnAgentKilledMidStreamFailsItsNodeWhileTheOtherContinues()
    {
        await StartAgentsAsync();
        string marker = $"cluster-{Guid.NewGuid():N}";
        using ClusterTrace trace = await StartTraceAsync(marker);
        Assert.Equal(2, NodesOf(Collect(trace, marker, found => NodesOf(found).Count() == 2)).Count());

        _agentA!.Kill();
        List<object> after = Collect(trace, marker, found => found.OfType<NodeFailure>().Any());
        NodeFailure failure = Assert.Single(after.OfType<NodeFailure>());
        Assert.Equal("node-a", failure.Node);
        Assert.Equal(GadgetErrorKind.Connection, failure.Exception.Kind);

        List<object> later = Collect(trace, marker, found => found.OfType<ExecEvent>().Count() >= 2);
        Assert.True(later.OfType<ExecEvent>().Count() >= 2, "node-b stopped delivering after node-a failed.");
        Assert.All(later.OfType<ExecEvent>(), e => Assert.Equal("node-b", e.Node));
        Assert.DoesNotContain(later, i => i is GadgetException);
    }

    [KernelFact]
    public async Task WhenEveryAgentFailsTheLastFailureEndsTheTrace()
    {
        await StartAgentsAsync();
        string marker = $"cluster-{Guid.NewGuid():N}";
        using ClusterTrace trace = await StartTraceAsync(marker);
        _agentA!.Kill();
        _agentB!.Kill();
        List<object> items = Collect(trace, marker, found => found.OfType<GadgetException>().Any());
        Assert.Single(items.OfType<NodeFailure>());
        Assert.Single(items.OfType<GadgetException>());
        Assert.True(Eventually.True(() => trace.IsCompleted || trace.TryTake(out _, TimeSpan.Zero, CancellationToken.None) && trace.IsCompleted, Wait));
    }

    [Fact]
    public async Task AForbiddenPortForwardIsPermissionDeniedNamingThePermission()
    {
        // No agent is needed: the API server refuses before any byte reaches a pod.
        _stub.AddAgentPod("gadget", "node-a", 1);
        _stub.AddAgentPod("gadget", "node-b", 1);
        _stub.Denied["create pods/portforward"] = true;
        IReadOnlyList<AgentPod> pods = await _cluster.FindAgentsAsync("gadget", null, CancellationToken.None);
        using ClusterTrace trace = ClusterTrace.Start([.. pods.Select(p => (p.Node, _cluster.Connect(p)))], new TraceOptions { Gadget = "exec" }, CancellationToken.None);
        var items = new List<object>();
        var clock = Stopwatch.StartNew();
        while (!trace.IsCompleted && clock.Elapsed < Wait)
        {
            if (trace.TryTake(out object? item, TimeSpan.FromMilliseconds(100), CancellationToken.None) && item is not null)
            {
                items.Add(item);
            }
        }

        GadgetException last = Assert.Single(items.OfType<GadgetException>());
        NodeFailure first = Assert.Single(items.OfType<NodeFailure>());
        foreach (GadgetException exception in new[] { last, first.Exception })
        {
            Assert.True(exception.Kind == GadgetErrorKind.PermissionDenied, exception.ToString());
            Assert.Equal(GadgetErrorId.KubeForbidden, exception.ErrorId);
            Assert.Contains("create pods/portforward in namespace gadget", exception.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task APortForwardToAPodThatDoesNotListenIsAConnectionFailureOfItsNode()
    {
        _stub.AddAgentPod("gadget", "node-a", 1);
        AgentPod pod = Assert.Single(await _cluster.FindAgentsAsync("gadget", null, CancellationToken.None));
        using AgentConnection connection = _cluster.Connect(pod);
        var exception = await Assert.ThrowsAsync<GadgetException>(() => connection.GetInfoAsync(CancellationToken.None));
        Assert.Equal(GadgetErrorKind.Connection, exception.Kind);
        Assert.Contains("node-a", exception.Message, StringComparison.Ordinal);
    }
}

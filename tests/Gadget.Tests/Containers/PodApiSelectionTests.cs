using Gadget.KubeStub;
using Gadget.Tests.Kernel;
using Gadget.Tracing;
using Xunit;
using TraceOptions = Gadget.Tracing.TraceOptions;

namespace Gadget.Tests.Containers;

/// <summary>
/// A real runc container that carries no kubelet labels, in the cgroup the kubelet makes for its
/// pod, and an agent that follows its node's pods at the (stub) API server: the pod's namespace,
/// name, container name and labels come from the API, and kernel selection follows them live.
/// </summary>
[Collection(KernelTests.Name)]
public sealed class PodApiSelectionTests : IAsyncLifetime
{
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..8];
    private readonly string _tokenFile = Path.Combine(Path.GetTempPath(), $"gadget-token-{Guid.NewGuid():N}");
    private KubeApiStub _stub = null!;

    public async Task InitializeAsync()
    {
        _stub = await KubeApiStub.StartAsync();
        await File.WriteAllTextAsync(_tokenFile, KubeApiStub.Token);
    }

    public async Task DisposeAsync()
    {
        await _stub.DisposeAsync();
        File.Delete(_tokenFile);
    }

    [KernelFact]
    public async Task AnUnlabelledRuncContainerIsNamedAndSelectedByItsPodFromTheApi()
    {
        string ns = $"api-ns-{_suffix}";
        string node = $"node-{_suffix}";
        string id = $"gadget-api-{_suffix}";
        string uid = _stub.AddPod(ns, "api-pod", node, new Dictionary<string, string> { ["app"] = "v1" }, new Dictionary<string, string> { ["api-c"] = id });
        using RuncContainer container = RuncContainer.Start(id, "while true; do /bin/true api-marker; sleep 0.1; done",
            cgroupsPath: $"/gadget-{_suffix}/kubepods/besteffort/pod{uid}/{id}");
        using AgentProcess agent = await AgentProcess.StartAsync("--node", node, "--kube-api", _stub.Url.ToString(), "--kube-token-file", _tokenFile);

        (List<ExecEvent> events, _) = await ExecTraces.CollectAsync(agent, Selecting(namespaces: [ns]));

        Assert.Contains(events, e => e.Args.Contains("api-marker"));
        Assert.All(events, e =>
        {
            Assert.Equal(ns, e.Namespace);
            Assert.Equal("api-pod", e.Pod);
            Assert.Equal("api-c", e.Container);
            Assert.Equal(id, e.ContainerId);
            Assert.Equal("v1", e.PodLabels["app"]);
        });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        GadgetContainer listed = Assert.Single(await agent.Connection.ListContainersAsync(null, node, timeout.Token), c => c.Id == id);
        Assert.Equal("runc", listed.Runtime);
        Assert.Equal(uid, listed.PodUid);
    }

    [KernelFact]
    public async Task ALabelChangeAtTheApiMovesTheContainerIntoTheKernelsSelection()
    {
        string ns = $"api-ns-{_suffix}";
        string node = $"node-{_suffix}";
        string id = $"gadget-api-{_suffix}";
        string uid = _stub.AddPod(ns, "api-pod", node, new Dictionary<string, string> { ["app"] = $"v1-{_suffix}" });
        using RuncContainer container = RuncContainer.Start(id, "while true; do /bin/true api-marker; sleep 0.1; done",
            cgroupsPath: $"/gadget-{_suffix}/kubepods/besteffort/pod{uid}/{id}");
        using AgentProcess agent = await AgentProcess.StartAsync("--node", node, "--kube-api", _stub.Url.ToString(), "--kube-token-file", _tokenFile);

        // Selecting app=v2 matches nothing for a while (the kernel drops the container's execs),
        // then the pod is relabelled and the container's execs come through, labelled v2.
        (List<ExecEvent> events, TraceStatistics statistics) = await ExecTraces.CollectAsync(agent, Selecting(labels: new Dictionary<string, string> { ["app"] = $"v2-{_suffix}" }), whileTracing: () =>
        {
            Thread.Sleep(TimeSpan.FromSeconds(2));
            _stub.SetPodLabels(ns, "api-pod", new Dictionary<string, string> { ["app"] = $"v2-{_suffix}" });
        });

        Assert.Contains(events, e => e.Args.Contains("api-marker"));
        Assert.All(events, e =>
        {
            Assert.Equal(id, e.ContainerId);
            Assert.Equal($"v2-{_suffix}", e.PodLabels["app"]);
        });
        // Two seconds of execs (about 40) before the change never left the kernel.
        Assert.True(statistics.FilteredAgent < 10, $"{statistics.FilteredAgent} events were filtered in the agent, not the kernel.");
    }

    private static TraceOptions Selecting(IReadOnlyList<string>? namespaces = null, IReadOnlyDictionary<string, string>? labels = null) => new()
    {
        Gadget = "exec",
        Duration = TimeSpan.FromSeconds(5),
        Containers = new ContainerSelection
        {
            Containers = true,
            Namespaces = namespaces ?? [],
            Labels = labels ?? new Dictionary<string, string>(),
        },
    };
}

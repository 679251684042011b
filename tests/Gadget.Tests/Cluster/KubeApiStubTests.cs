using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Gadget.KubeStub;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Xunit;

namespace Gadget.Tests.Cluster;

/// <summary>The stub checked against KubernetesClient itself, so the client tests rest on a faithful server.</summary>
public sealed class KubeApiStubTests : IAsyncLifetime, IDisposable
{
    private KubeApiStub _stub = null!;
    private k8s.Kubernetes _client = null!;

    public async Task InitializeAsync()
    {
        _stub = await KubeApiStub.StartAsync();
        using var config = new MemoryStream(Encoding.UTF8.GetBytes(_stub.KubeConfig()));
        _client = new k8s.Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(config));
    }

    public async Task DisposeAsync() => await _stub.DisposeAsync();

    public void Dispose() => _client.Dispose();

    [Fact]
    public async Task ServerSideApplyCreatesThenKeepsTheResourceVersionWhenNothingChanges()
    {
        var account = new V1ServiceAccount { ApiVersion = "v1", Kind = "ServiceAccount", Metadata = new V1ObjectMeta { Name = "sa", NamespaceProperty = "ns1" } };
        V1ServiceAccount created = await _client.CoreV1.PatchNamespacedServiceAccountAsync(new V1Patch(account, V1Patch.PatchType.ApplyPatch), "sa", "ns1", fieldManager: "test");
        V1ServiceAccount again = await _client.CoreV1.PatchNamespacedServiceAccountAsync(new V1Patch(account, V1Patch.PatchType.ApplyPatch), "sa", "ns1", fieldManager: "test");
        Assert.False(string.IsNullOrEmpty(created.Metadata.Uid));
        Assert.Equal(created.Metadata.ResourceVersion, again.Metadata.ResourceVersion);

        account.AutomountServiceAccountToken = false;
        V1ServiceAccount changed = await _client.CoreV1.PatchNamespacedServiceAccountAsync(new V1Patch(account, V1Patch.PatchType.ApplyPatch), "sa", "ns1", fieldManager: "test");
        Assert.NotEqual(created.Metadata.ResourceVersion, changed.Metadata.ResourceVersion);
        Assert.Equal(created.Metadata.Uid, changed.Metadata.Uid);
        Assert.False((await _client.CoreV1.ReadNamespacedServiceAccountAsync("sa", "ns1")).AutomountServiceAccountToken);
    }

    [Fact]
    public async Task ApplyWithoutAFieldManagerIsRefusedAsTheApiServerDoes()
    {
        var role = new V1ClusterRole { ApiVersion = "rbac.authorization.k8s.io/v1", Kind = "ClusterRole", Metadata = new V1ObjectMeta { Name = "r" } };
        var exception = await Assert.ThrowsAsync<HttpOperationException>(() => _client.RbacAuthorizationV1.PatchClusterRoleAsync(new V1Patch(role, V1Patch.PatchType.ApplyPatch), "r"));
        Assert.Equal(HttpStatusCode.BadRequest, exception.Response.StatusCode);
    }

    [Fact]
    public async Task GetAndDeleteOfAMissingObjectAre404()
    {
        var get = await Assert.ThrowsAsync<HttpOperationException>(() => _client.AppsV1.ReadNamespacedDaemonSetAsync("none", "ns1"));
        Assert.Equal(HttpStatusCode.NotFound, get.Response.StatusCode);
        var delete = await Assert.ThrowsAsync<HttpOperationException>(() => _client.CoreV1.DeleteNamespaceAsync("none"));
        Assert.Equal(HttpStatusCode.NotFound, delete.Response.StatusCode);
    }

    [Fact]
    public async Task PodsAreListedByLabelSelectorAndNamespace()
    {
        _stub.AddAgentPod("gadget", "node-a", 1);
        _stub.AddAgentPod("gadget", "node-b", 1, ready: false, waitingReason: "ImagePullBackOff");
        _stub.AddAgentPod("elsewhere", "node-c", 1);
        V1PodList pods = await _client.CoreV1.ListNamespacedPodAsync("gadget", labelSelector: KubeApiStub.AgentLabels);
        Assert.Equal(["node-a", "node-b"], pods.Items.Select(p => p.Spec.NodeName).Order());
        Assert.Empty((await _client.CoreV1.ListNamespacedPodAsync("gadget", labelSelector: "app.kubernetes.io/name=other")).Items);
        Assert.Equal("ImagePullBackOff", pods.Items.Single(p => p.Spec.NodeName == "node-b").Status.ContainerStatuses[0].State.Waiting.Reason);
    }

    [Fact]
    public async Task PodsAreListedByFieldSelectorOnTheirNode()
    {
        _stub.AddPod("ns1", "on-a", "node-a");
        _stub.AddPod("ns2", "also-on-a", "node-a");
        _stub.AddPod("ns1", "on-b", "node-b");

        V1PodList onA = await _client.CoreV1.ListPodForAllNamespacesAsync(fieldSelector: "spec.nodeName=node-a");
        Assert.Equal(["also-on-a", "on-a"], onA.Items.Select(p => p.Metadata.Name).Order(StringComparer.Ordinal));
        Assert.Equal(["on-b"], (await _client.CoreV1.ListNamespacedPodAsync("ns1", fieldSelector: "spec.nodeName!=node-a")).Items.Select(p => p.Metadata.Name));
        Assert.False(string.IsNullOrEmpty(onA.Metadata.ResourceVersion));
        var unsupported = await Assert.ThrowsAsync<HttpOperationException>(() => _client.CoreV1.ListPodForAllNamespacesAsync(fieldSelector: "spec.schedulerName=x"));
        Assert.Equal(HttpStatusCode.BadRequest, unsupported.Response.StatusCode);
    }

    [Fact]
    public async Task AWatchFromTheListsVersionStreamsEveryChangeToTheSelectedPods()
    {
        _stub.AddPod("ns1", "before", "node-a", new Dictionary<string, string> { ["app"] = "web" });
        string version = (await _client.CoreV1.ListPodForAllNamespacesAsync(fieldSelector: "spec.nodeName=node-a")).Metadata.ResourceVersion;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var events = new List<(WatchEventType Type, V1Pod Pod)>();
        Task watching = Task.Run(async () =>
        {
            await foreach ((WatchEventType type, V1Pod pod) in _client.CoreV1.WatchListPodForAllNamespacesAsync(
                fieldSelector: "spec.nodeName=node-a", resourceVersion: version, allowWatchBookmarks: true, cancellationToken: timeout.Token))
            {
                events.Add((type, pod));
                if (type == WatchEventType.Deleted)
                {
                    return;
                }
            }
        });

        string uid = _stub.AddPod("ns1", "p", "node-a", new Dictionary<string, string> { ["app"] = "web" });
        _stub.AddPod("ns1", "elsewhere", "node-b");
        _stub.SetPodLabels("ns1", "p", new Dictionary<string, string> { ["app"] = "db" });
        _stub.DeletePod("ns1", "p");
        await watching;

        // The pod that existed before the list's version and the one on node-b are not replayed.
        Assert.Equal([WatchEventType.Added, WatchEventType.Modified, WatchEventType.Deleted], events.Select(e => e.Type));
        Assert.All(events, e => Assert.Equal(uid, e.Pod.Metadata.Uid));
        Assert.Equal("web", events[0].Pod.Metadata.Labels["app"]);
        Assert.Equal("db", events[1].Pod.Metadata.Labels["app"]);
        // Each event carries the object's new version, increasing.
        var versions = events.Select(e => long.Parse(e.Pod.Metadata.ResourceVersion, CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(versions.Order(), versions);
        Assert.True(versions[0] > long.Parse(version, CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task AWatchWithoutAVersionStartsWithTheCurrentPodsAndLabelSelectionAddsAndDeletes()
    {
        _stub.AddPod("ns1", "web-1", "node-a", new Dictionary<string, string> { ["app"] = "web" });
        _stub.AddPod("ns1", "db-1", "node-a", new Dictionary<string, string> { ["app"] = "db" });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var events = new List<(WatchEventType Type, string Name)>();
        var started = new TaskCompletionSource();
        Task watching = Task.Run(async () =>
        {
            await foreach ((WatchEventType type, V1Pod pod) in _client.CoreV1.WatchListNamespacedPodAsync("ns1", labelSelector: "app=web", cancellationToken: timeout.Token))
            {
                events.Add((type, pod.Metadata.Name));
                started.TrySetResult();
                if (events.Count == 3)
                {
                    return;
                }
            }
        });

        await started.Task.WaitAsync(timeout.Token);
        // db-1 enters the selection, web-1 leaves it: the client sees them appear and disappear.
        _stub.SetPodLabels("ns1", "db-1", new Dictionary<string, string> { ["app"] = "web" });
        _stub.SetPodLabels("ns1", "web-1", new Dictionary<string, string> { ["app"] = "old" });
        await watching;

        Assert.Equal([(WatchEventType.Added, "web-1"), (WatchEventType.Added, "db-1"), (WatchEventType.Deleted, "web-1")], events);
    }

    [Fact]
    public async Task AWatchFromAVersionTheServerNoLongerHasGets410Expired()
    {
        string version = (await _client.CoreV1.ListPodForAllNamespacesAsync()).Metadata.ResourceVersion;
        _stub.AddPod("ns1", "p", "node-a");
        _stub.ForgetWatchHistory();
        var errors = new List<Exception>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        await foreach (var _ in _client.CoreV1.WatchListPodForAllNamespacesAsync(resourceVersion: version, onError: errors.Add, cancellationToken: timeout.Token))
        {
            Assert.Fail("A watch from a forgotten version delivered an object.");
        }

        KubernetesException expired = Assert.IsType<KubernetesException>(Assert.Single(errors));
        Assert.Equal(410, expired.Status.Code);
        Assert.Equal("Expired", expired.Status.Reason);
    }

    [Fact]
    public async Task AWatchThatAllowsThemGetsBookmarksWithTheCurrentVersion()
    {
        _stub.BookmarkInterval = TimeSpan.FromMilliseconds(200);
        _stub.AddPod("ns1", "p", "node-a");
        string version = (await _client.CoreV1.ListPodForAllNamespacesAsync()).Metadata.ResourceVersion;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        await foreach ((WatchEventType type, V1Pod pod) in _client.CoreV1.WatchListPodForAllNamespacesAsync(resourceVersion: version, allowWatchBookmarks: true, cancellationToken: timeout.Token))
        {
            Assert.Equal(WatchEventType.Bookmark, type);
            Assert.Equal(version, pod.Metadata.ResourceVersion);
            break;
        }
    }

    [Fact]
    public async Task AWatchEndsAtItsTimeoutAndAfterARestartItsVersionIsExpired()
    {
        _stub.AddPod("ns1", "p", "node-a");
        string version = (await _client.CoreV1.ListPodForAllNamespacesAsync()).Metadata.ResourceVersion;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var seen = new List<WatchEventType>();
        await foreach ((WatchEventType type, _) in _client.CoreV1.WatchListPodForAllNamespacesAsync(timeoutSeconds: 1, cancellationToken: timeout.Token))
        {
            seen.Add(type);
        }

        Assert.Equal([WatchEventType.Added], seen);
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(10));

        _stub.AddPod("ns1", "q", "node-a");
        await _stub.RestartAsync();
        var errors = new List<Exception>();
        await foreach (var _ in _client.CoreV1.WatchListPodForAllNamespacesAsync(resourceVersion: version, onError: errors.Add, cancellationToken: timeout.Token))
        {
            Assert.Fail("A watch from before the restart delivered an object.");
        }

        Assert.Equal(410, Assert.IsType<KubernetesException>(Assert.Single(errors)).Status.Code);
        Assert.Equal(["p", "q"], (await _client.CoreV1.ListPodForAllNamespacesAsync()).Items.Select(p => p.Metadata.Name));
    }

    [Fact]
    public async Task ForbiddenAnswersCarryAStatus()
    {
        _stub.Denied["list pods"] = true;
        var exception = await Assert.ThrowsAsync<HttpOperationException>(() => _client.CoreV1.ListNamespacedPodAsync("gadget"));
        Assert.Equal(HttpStatusCode.Forbidden, exception.Response.StatusCode);
        V1Status status = KubernetesJson.Deserialize<V1Status>(exception.Response.Content);
        Assert.Equal("Forbidden", status.Reason);
        Assert.Contains("cannot list resource \"pods\"", status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WrongCredentialsAre401()
    {
        using var config = new MemoryStream(Encoding.UTF8.GetBytes(_stub.KubeConfig(token: "wrong")));
        using var client = new k8s.Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(config));
        var exception = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.ListNamespaceAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, exception.Response.StatusCode);
    }

    [Fact]
    public async Task PortForwardSpeaksTheChannelProtocolKubernetesClientDemuxes()
    {
        // An echo server stands in for the pod's port.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        Task echo = Task.Run(async () =>
        {
            using TcpClient accepted = await listener.AcceptTcpClientAsync();
            NetworkStream stream = accepted.GetStream();
            byte[] buffer = new byte[1024];
            int read;
            while ((read = await stream.ReadAsync(buffer)) > 0)
            {
                await stream.WriteAsync(buffer.AsMemory(0, read));
            }
        });
        _stub.AddAgentPod("gadget", "node-a", ((IPEndPoint)listener.LocalEndpoint).Port);

        using var socket = await _client.WebSocketNamespacedPodPortForwardAsync("gadget-node-a", "gadget", [8080], "v4.channel.k8s.io");
        using var demuxer = new StreamDemuxer(socket, StreamType.PortForward);
        demuxer.Start();
        using Stream stream = demuxer.GetStream((byte?)0, (byte?)0);
        await stream.WriteAsync("hello"u8.ToArray());
        byte[] answer = new byte[5];
        int total = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (total < answer.Length)
        {
            total += await stream.ReadAsync(answer.AsMemory(total), timeout.Token);
        }

        Assert.Equal("hello", Encoding.ASCII.GetString(answer));
    }

    [Fact]
    public async Task PortForwardToAClosedPortReportsOnTheErrorChannel()
    {
        _stub.AddAgentPod("gadget", "node-a", 1);
        using var socket = await _client.WebSocketNamespacedPodPortForwardAsync("gadget-node-a", "gadget", [8080], "v4.channel.k8s.io");
        var received = new List<byte[]>();
        byte[] buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, timeout.Token);
            if (result.MessageType == System.Net.WebSockets.WebSocketMessageType.Close)
            {
                break;
            }

            received.Add(buffer[..result.Count]);
        }

        // The port (8080 = 0x1f90, little-endian) first on each channel, then the error on channel 1.
        Assert.Equal(new byte[] { 0, 0x90, 0x1f }, received[0]);
        Assert.Equal(new byte[] { 1, 0x90, 0x1f }, received[1]);
        Assert.Equal(1, received[2][0]);
        Assert.Contains("error forwarding port 8080", Encoding.UTF8.GetString(received[2], 1, received[2].Length - 1), StringComparison.Ordinal);
    }
}

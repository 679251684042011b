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

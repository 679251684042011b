using System.Text;
using Gadget.Connection;
using k8s;
using k8s.KubeConfigModels;
using k8s.Models;

namespace Gadget.Kubernetes;

/// <summary>
/// One Kubernetes cluster, reached through a kubeconfig (KUBECONFIG, ~/.kube/config, a path or its
/// content) or the in-cluster service account: finds the agents and opens port-forwards to them.
/// </summary>
public sealed class KubeCluster : IDisposable
{
    /// <summary>The namespace Install-Gadget uses unless told otherwise.</summary>
    public const string DefaultInstallNamespace = "gadget";

    /// <summary>The port the agent serves on, on 127.0.0.1 inside its pod.</summary>
    public const int AgentPort = 8080;

    /// <summary>The labels of the agent pods (see deploy/03-daemonset.yaml).</summary>
    public const string AgentSelector = "app.kubernetes.io/name=gadget,app.kubernetes.io/component=agent";

    private readonly TimeSpan _deadline;

    internal KubeCluster(IKubernetes client, string server, string? contextNamespace, TimeSpan deadline)
    {
        _deadline = deadline;
        Client = client;
        Server = server;
        ContextNamespace = string.IsNullOrEmpty(contextNamespace) ? "default" : contextNamespace;
    }

    internal IKubernetes Client { get; }

    /// <summary>The API server's address, for messages.</summary>
    public string Server { get; }

    /// <summary>The kubeconfig context's namespace ("default" when it names none), as kubectl uses it.</summary>
    public string ContextNamespace { get; }

    /// <summary>Connects (lazily: no request is made here) with the kubeconfig <paramref name="source"/> selects.</summary>
    public static KubeCluster Open(KubeConfigSource source) => Open(source, RequestDeadline.Value);

    /// <summary>The same, with a deadline for each API request other than the default.</summary>
    internal static KubeCluster Open(KubeConfigSource source, TimeSpan deadline)
    {
        ArgumentNullException.ThrowIfNull(source);
        KubernetesClientConfiguration configuration = source.Load();
        // The handler's deadline ends a request that gets no answer; HttpClient's own timeout,
        // a little later, ends one whose answer stalls midway.
        configuration.HttpClientTimeout = deadline + TimeSpan.FromSeconds(5);
        var client = new k8s.Kubernetes(configuration, new RequestDeadlineHandler(deadline)) { CreateWebSocketBuilder = () => new StatusWebSocketBuilder() };
        return new KubeCluster(client, configuration.Host, configuration.Namespace, deadline);
    }

    /// <summary>
    /// The namespace Gadget is installed in: the subject of its ClusterRoleBinding, or null when it
    /// is not installed. When that cannot be read (RBAC), the default namespace.
    /// </summary>
    public async Task<string?> FindInstallNamespaceAsync(CancellationToken token)
    {
        try
        {
            V1ClusterRoleBinding binding = await Client.RbacAuthorizationV1.ReadClusterRoleBindingAsync(GadgetManifests.ClusterObjectName, cancellationToken: token).ConfigureAwait(false);
            return binding.Subjects?.FirstOrDefault(s => s.Kind == "ServiceAccount")?.NamespaceProperty ?? DefaultInstallNamespace;
        }
        catch (Exception exception) when (KubeErrors.StatusOf(exception) is System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
        catch (Exception exception) when (KubeErrors.StatusOf(exception) is System.Net.HttpStatusCode.Forbidden)
        {
            return DefaultInstallNamespace;
        }
        catch (Exception exception) when (!token.IsCancellationRequested)
        {
            throw KubeErrors.ToGadgetException(exception, "get clusterrolebindings/gadget", Server);
        }
    }

    /// <summary>The agent pods of <paramref name="installNamespace"/>, optionally only those on the given nodes.</summary>
    public async Task<IReadOnlyList<AgentPod>> FindAgentsAsync(string installNamespace, IReadOnlyCollection<string>? nodes, CancellationToken token)
    {
        V1PodList pods;
        try
        {
            pods = await Client.CoreV1.ListNamespacedPodAsync(installNamespace, labelSelector: AgentSelector, cancellationToken: token).ConfigureAwait(false);
        }
        catch (Exception exception) when (!token.IsCancellationRequested)
        {
            throw KubeErrors.ToGadgetException(exception, $"list pods in namespace {installNamespace}", Server);
        }

        return [.. pods.Items
            .Where(pod => pod.Metadata.DeletionTimestamp is null)
            .Select(pod => new AgentPod(pod))
            .Where(agent => nodes is null || nodes.Count == 0 || nodes.Contains(agent.Node, StringComparer.OrdinalIgnoreCase))
            .OrderBy(agent => agent.Node, StringComparer.Ordinal)];
    }

    /// <summary>A gRPC connection to one agent, through a port-forward opened for each HTTP/2 connection.</summary>
    public AgentConnection Connect(AgentPod agent)
        => AgentConnection.ForStream($"pod {agent.Namespace}/{agent.Name} on node {agent.Node}", token => PortForwardAsync(agent, token));

    internal async ValueTask<Stream> PortForwardAsync(AgentPod agent, CancellationToken token)
    {
        System.Net.WebSockets.WebSocket socket;
        // The WebSocket upgrade bypasses the HTTP handlers: its deadline is set here.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
        timeout.CancelAfter(_deadline);
        try
        {
            socket = await Client.WebSocketNamespacedPodPortForwardAsync(agent.Name, agent.Namespace, [AgentPort], PortForwardStream.SubProtocol, cancellationToken: timeout.Token).ConfigureAwait(false);
        }
        catch (Exception exception) when (!token.IsCancellationRequested)
        {
            throw KubeErrors.ToGadgetException(exception, $"create pods/portforward in namespace {agent.Namespace}", Server);
        }

        return new PortForwardStream(socket, $"pod {agent.Namespace}/{agent.Name}");
    }

    /// <summary>
    /// Names for completion: namespaces, pods (of <paramref name="ns"/>, or all), the containers of
    /// those pods, or nodes. One API request, under the cluster's request deadline.
    /// </summary>
    public async Task<IReadOnlyList<string>> ListNamesAsync(ClusterNameKind kind, string? ns, CancellationToken token)
    {
        switch (kind)
        {
            case ClusterNameKind.Namespace:
                return [.. (await Client.CoreV1.ListNamespaceAsync(cancellationToken: token)).Items.Select(n => n.Metadata.Name)];
            case ClusterNameKind.Node:
                return [.. (await Client.CoreV1.ListNodeAsync(cancellationToken: token)).Items.Select(n => n.Metadata.Name)];
            default:
                V1PodList pods = string.IsNullOrEmpty(ns)
                    ? await Client.CoreV1.ListPodForAllNamespacesAsync(cancellationToken: token)
                    : await Client.CoreV1.ListNamespacedPodAsync(ns, cancellationToken: token);
                return kind == ClusterNameKind.Pod
                    ? [.. pods.Items.Select(p => p.Metadata.Name)]
                    : [.. pods.Items.SelectMany(p => p.Spec?.Containers ?? []).Select(c => c.Name)];
        }
    }

    public void Dispose() => Client.Dispose();
}

/// <summary>One agent pod: where it runs and whether it is ready.</summary>
public sealed class AgentPod
{
    internal AgentPod(V1Pod pod)
    {
        Name = pod.Metadata.Name;
        Namespace = pod.Metadata.NamespaceProperty;
        Node = pod.Spec?.NodeName ?? string.Empty;
        Image = pod.Spec?.Containers?.FirstOrDefault()?.Image ?? string.Empty;
        Ready = pod.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true;
        NotReadyReason = Ready ? null : ReasonOf(pod);
    }

    public string Name { get; }

    public string Namespace { get; }

    public string Node { get; }

    public string Image { get; }

    public bool Ready { get; }

    /// <summary>Why the pod is not ready (CrashLoopBackOff: …, ImagePullBackOff: …, Pending), or null.</summary>
    public string? NotReadyReason { get; }

    private static string ReasonOf(V1Pod pod)
    {
        foreach (V1ContainerStatus status in pod.Status?.ContainerStatuses ?? [])
        {
            if (status.State?.Waiting is { } waiting)
            {
                return string.IsNullOrEmpty(waiting.Message) ? waiting.Reason : $"{waiting.Reason}: {waiting.Message}";
            }

            if (status.State?.Terminated is { } terminated)
            {
                return $"{terminated.Reason} (exit code {terminated.ExitCode})";
            }

            if (status.Ready != true)
            {
                return "running, not ready (the readiness probe fails)";
            }
        }

        V1PodCondition? scheduled = pod.Status?.Conditions?.FirstOrDefault(c => c.Type == "PodScheduled" && c.Status != "True");
        if (scheduled is not null)
        {
            return $"not scheduled: {scheduled.Message}";
        }

        return pod.Status?.Phase ?? "Pending";
    }
}

/// <summary>What a completion asks the cluster for.</summary>
public enum ClusterNameKind
{
    Namespace,
    Pod,
    Container,
    Node,
}

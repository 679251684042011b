using System.Text;
using Gadget.Connection;
using k8s;
using k8s.KubeConfigModels;
using k8s.Models;

namespace Gadget.Kubernetes;

/// <summary>Where the kubeconfig comes from: the defaults, a file, or its content.</summary>
public sealed class KubeConfigSource
{
    /// <summary>A path to a kubeconfig file, or the kubeconfig itself (YAML or JSON); null for the defaults.</summary>
    public string? KubeConfig { get; init; }

    /// <summary>The context to use; null for the kubeconfig's current context.</summary>
    public string? Context { get; init; }
}

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

    internal KubeCluster(IKubernetes client, string server, string? contextNamespace)
    {
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
    public static KubeCluster Open(KubeConfigSource source)
    {
        KubernetesClientConfiguration configuration = LoadConfiguration(source);
        var client = new k8s.Kubernetes(configuration) { CreateWebSocketBuilder = () => new StatusWebSocketBuilder() };
        return new KubeCluster(client, configuration.Host, configuration.Namespace);
    }

    internal static KubernetesClientConfiguration LoadConfiguration(KubeConfigSource source)
    {
        try
        {
            if (source.KubeConfig is { Length: > 0 } given)
            {
                if (LooksLikeContent(given))
                {
                    using var stream = new MemoryStream(Encoding.UTF8.GetBytes(given));
                    K8SConfiguration config = KubernetesClientConfiguration.LoadKubeConfig(stream);
                    return KubernetesClientConfiguration.BuildConfigFromConfigObject(config, source.Context);
                }

                if (!File.Exists(given))
                {
                    throw new GadgetException(GadgetErrorId.KubeConfigNotFound, GadgetErrorKind.InvalidArgument,
                        $"The kubeconfig file {given} does not exist.")
                    {
                        RecommendedAction = "Give -KubeConfig the path of a kubeconfig file, or the kubeconfig's content as a string.",
                    };
                }

                return KubernetesClientConfiguration.BuildConfigFromConfigFile(given, source.Context);
            }

            string? variable = Environment.GetEnvironmentVariable("KUBECONFIG");
            string home = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".kube", "config");
            // Read $env:KUBECONFIG now: KubernetesClient reads it once per process. Of a list of
            // files (kubectl merges them), the first that exists is used.
            string? file = variable is { Length: > 0 }
                ? variable.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault(File.Exists)
                : File.Exists(home) ? home : null;
            if (file is not null)
            {
                return KubernetesClientConfiguration.BuildConfigFromConfigFile(file, source.Context);
            }

            if (KubernetesClientConfiguration.IsInCluster())
            {
                return KubernetesClientConfiguration.InClusterConfig();
            }

            throw new GadgetException(GadgetErrorId.KubeConfigNotFound, GadgetErrorKind.NotSupported,
                $"No kubeconfig was found ({(variable is { Length: > 0 } ? "$env:KUBECONFIG = " + variable : home)}) and this is not a Kubernetes pod, so there is no cluster to reach.")
            {
                RecommendedAction = "Give -KubeConfig (a path or the content), set $env:KUBECONFIG, or add -Local to trace this host.",
            };
        }
        catch (Exception exception) when (exception is k8s.Exceptions.KubeConfigException or IOException or YamlDotNet.Core.YamlException or ArgumentException or FormatException)
        {
            throw new GadgetException(GadgetErrorId.KubeConfigInvalid, GadgetErrorKind.InvalidArgument,
                $"The kubeconfig cannot be used: {exception.Message}", exception)
            {
                RecommendedAction = "Check the kubeconfig and the -Context name (kubectl config get-contexts lists them).",
            };
        }
    }

    /// <summary>Content rather than a path: several lines, or a kubeconfig's keys.</summary>
    private static bool LooksLikeContent(string value)
        => value.Contains('\n', StringComparison.Ordinal) || value.TrimStart().StartsWith('{') || value.Contains("apiVersion:", StringComparison.Ordinal);

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
        catch (Exception exception) when (exception is not OperationCanceledException)
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
        catch (Exception exception) when (exception is not OperationCanceledException)
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
        try
        {
            socket = await Client.WebSocketNamespacedPodPortForwardAsync(agent.Name, agent.Namespace, [AgentPort], PortForwardStream.SubProtocol, cancellationToken: token).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            throw KubeErrors.ToGadgetException(exception, $"create pods/portforward in namespace {agent.Namespace}", Server);
        }

        return new PortForwardStream(socket, $"pod {agent.Namespace}/{agent.Name}");
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

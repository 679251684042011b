using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using Gadget.Connection;
using Gadget.Kubernetes;

namespace Gadget.Commands;

/// <summary>
/// Completes -Namespace, -Pod, -Container, -Node and -Context: with -Local from the containers the
/// agent on this host knows, otherwise from the cluster of the kubeconfig (-Context from the
/// kubeconfig alone). Each answer comes within <see cref="Timeout"/>, and nothing comes, quietly,
/// when there is no agent or cluster to ask: completion never fails and never starts an agent.
/// </summary>
public sealed class ClusterNameCompleter : IArgumentCompleter
{
    /// <summary>How long a completion waits for the agent or the API server.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        IReadOnlyList<string> names;
        try
        {
            names = Names(parameterName, fakeBoundParameters);
        }
        catch (Exception)
        {
            names = []; // unreachable, refused, not root: nothing to offer
        }

        string typed = wordToComplete.Trim('\'', '"');
        return names
            .Where(name => name.StartsWith(typed, StringComparison.OrdinalIgnoreCase))
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .Select(name => new CompletionResult(Quote(name), name, CompletionResultType.ParameterValue, name));
    }

    private static IReadOnlyList<string> Names(string parameterName, IDictionary bound)
    {
        string? Bound(string name) => bound.Contains(name) ? LanguagePrimitives.ConvertTo<string>(bound[name]) : null;
        var source = new KubeConfigSource { KubeConfig = Bound("KubeConfig"), Context = parameterName == "Context" ? null : Bound("Context") };
        if (parameterName == "Context")
        {
            return source.ContextNames();
        }

        bool local = bound.Contains("Local") && LanguagePrimitives.IsTrue(bound["Local"] is SwitchParameter s ? s.IsPresent : bound["Local"]);
        string? ns = bound.Contains("Namespace") ? LanguagePrimitives.ConvertTo<string[]>(bound["Namespace"])?.FirstOrDefault() : null;
        using var timeout = new CancellationTokenSource(Timeout);
        return local ? FromHost(parameterName, ns, timeout.Token) : FromCluster(parameterName, ns, source, timeout.Token);
    }

    /// <summary>From the agent already running on this host; none is started for a completion.</summary>
    private static IReadOnlyList<string> FromHost(string parameterName, string? ns, CancellationToken token)
    {
        if (!File.Exists(LocalAgent.SocketPath))
        {
            return [];
        }

        using AgentConnection connection = AgentConnection.ForUnixSocket(LocalAgent.SocketPath);
        IReadOnlyList<GadgetContainer> containers = connection.ListContainersAsync(null, string.Empty, token).WaitAsync(token).GetAwaiter().GetResult();
        IEnumerable<GadgetContainer> inNamespace = containers.Where(c => ns is null || parameterName == "Namespace" || c.Namespace == ns);
        return parameterName switch
        {
            "Namespace" => [.. inNamespace.Select(c => c.Namespace).OfType<string>()],
            "Pod" => [.. inNamespace.Select(c => c.Pod).OfType<string>()],
            "Container" => [.. inNamespace.Select(c => c.Container)],
            _ => [],
        };
    }

    private static IReadOnlyList<string> FromCluster(string parameterName, string? ns, KubeConfigSource source, CancellationToken token)
    {
        ClusterNameKind? kind = parameterName switch
        {
            "Namespace" => ClusterNameKind.Namespace,
            "Pod" => ClusterNameKind.Pod,
            "Container" => ClusterNameKind.Container,
            "Node" => ClusterNameKind.Node,
            _ => null,
        };
        if (kind is null)
        {
            return [];
        }

        using KubeCluster cluster = KubeCluster.Open(source);
        return cluster.ListNamesAsync(kind.Value, ns ?? (kind is ClusterNameKind.Pod or ClusterNameKind.Container ? cluster.ContextNamespace : null), token).WaitAsync(token).GetAwaiter().GetResult();
    }

    private static string Quote(string name)
        => name.Any(c => char.IsWhiteSpace(c) || "'\"`$;,(){}@#&|<>".Contains(c)) ? "'" + name.Replace("'", "''", StringComparison.Ordinal) + "'" : name;
}

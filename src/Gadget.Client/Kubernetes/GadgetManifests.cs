using System.Reflection;
using k8s;
using k8s.Models;

namespace Gadget.Kubernetes;

/// <summary>What Install-Gadget may change in the manifests of deploy/.</summary>
public sealed class InstallOptions
{
    /// <summary>The namespace of the agents; default <c>gadget</c>.</summary>
    public string Namespace { get; init; } = KubeCluster.DefaultInstallNamespace;

    /// <summary>The agent image; null for the one in deploy/03-daemonset.yaml.</summary>
    public string? Image { get; init; }

    /// <summary>Node labels the agents' nodes must have, besides kubernetes.io/os=linux.</summary>
    public IReadOnlyDictionary<string, string> NodeSelector { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Agents that run users' own programs (Invoke-GadgetProgram): the agent flag --allow-programs.
    /// Anyone allowed to port-forward to the agents' pods can then load any eBPF program on every node.
    /// </summary>
    public bool AllowPrograms { get; init; }
}

/// <summary>
/// The objects of deploy/*.yaml, embedded in this assembly at build time (one source of truth with
/// <c>kubectl apply -f deploy/</c>), parsed into typed objects and adjusted to the install options.
/// </summary>
public static class GadgetManifests
{
    /// <summary>The name of every object Gadget creates (the namespace aside).</summary>
    public const string ClusterObjectName = "gadget";

    private const string ResourcePrefix = "Gadget.Deploy.";

    /// <summary>The agent's flag that lets it run users' own programs.</summary>
    public const string AllowProgramsFlag = "--allow-programs";

    /// <summary>The manifests' file names and text, in apply order.</summary>
    public static IReadOnlyList<(string Name, string Yaml)> Sources { get; } = LoadSources();

    /// <summary>The objects to apply, in order (namespace first, DaemonSet last).</summary>
    public static IReadOnlyList<IKubernetesObject<V1ObjectMeta>> Build(InstallOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var objects = new List<IKubernetesObject<V1ObjectMeta>>();
        foreach ((_, string yaml) in Sources)
        {
            foreach (object item in KubernetesYaml.LoadAllFromString(yaml))
            {
                objects.Add((IKubernetesObject<V1ObjectMeta>)item);
            }
        }

        foreach (IKubernetesObject<V1ObjectMeta> item in objects)
        {
            Rewrite(item, options);
        }

        return objects;
    }

    private static void Rewrite(IKubernetesObject<V1ObjectMeta> item, InstallOptions options)
    {
        switch (item)
        {
            case V1Namespace ns:
                ns.Metadata.Name = options.Namespace;
                break;
            case V1ClusterRoleBinding binding:
                foreach (Rbacv1Subject subject in binding.Subjects ?? [])
                {
                    if (subject.Kind == "ServiceAccount")
                    {
                        subject.NamespaceProperty = options.Namespace;
                    }
                }

                break;
            case V1DaemonSet daemonSet:
                V1PodSpec pod = daemonSet.Spec.Template.Spec;
                if (options.Image is { Length: > 0 } image)
                {
                    pod.Containers[0].Image = image;
                }

                if (options.AllowPrograms)
                {
                    V1Container agent = pod.Containers[0];
                    agent.Args ??= [];
                    if (!agent.Args.Contains(AllowProgramsFlag))
                    {
                        agent.Args.Add(AllowProgramsFlag);
                    }
                }

                pod.NodeSelector ??= new Dictionary<string, string>();
                foreach ((string key, string value) in options.NodeSelector)
                {
                    pod.NodeSelector[key] = value;
                }

                break;
        }

        if (item.Metadata.NamespaceProperty is not null)
        {
            item.Metadata.NamespaceProperty = options.Namespace;
        }
    }

    /// <summary>The objects as YAML documents, for -WhatIf and review.</summary>
    public static string ToYaml(IEnumerable<IKubernetesObject<V1ObjectMeta>> objects) => KubernetesYaml.SerializeAll(objects);

    private static List<(string, string)> LoadSources()
    {
        Assembly assembly = typeof(GadgetManifests).Assembly;
        var sources = new List<(string, string)>();
        foreach (string name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using Stream stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            sources.Add((name[ResourcePrefix.Length..], reader.ReadToEnd()));
        }

        if (sources.Count == 0)
        {
            throw new InvalidOperationException("The deploy/ manifests are not embedded in Gadget.Client: the build is broken.");
        }

        return sources;
    }
}

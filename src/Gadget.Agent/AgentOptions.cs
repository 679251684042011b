using System.Globalization;
using System.Reflection;
using Gadget.Agent.Containers;
using Gadget.Agent.Runtime;

namespace Gadget.Agent;

/// <summary>The agent's command line.</summary>
internal sealed class AgentOptions
{
    public const string DefaultSocketPath = "/run/gadget/gadget.sock";

    public string? SocketPath { get; private set; } = DefaultSocketPath;

    /// <summary>TCP port on 127.0.0.1 (inside a pod, for the API server's port-forward).</summary>
    public int? ListenPort { get; private set; }

    /// <summary>The Kubernetes node (--node or the downward API's NODE_NAME); empty on a host outside Kubernetes.</summary>
    public string NodeName { get; private set; } = Environment.GetEnvironmentVariable("NODE_NAME") ?? string.Empty;

    /// <summary>Exit when this process ends (an agent started for one command by the cmdlets).</summary>
    public int? ParentPid { get; private set; }

    public TraceSettings Trace { get; private set; } = new();

    /// <summary>
    /// Runs users' own programs (TraceRequest.program). Off by default: whoever may reach the agent
    /// (root on the host; in a cluster, anyone allowed to port-forward to its pods) could then load
    /// any eBPF program the kernel accepts.
    /// </summary>
    public bool AllowPrograms { get; private set; }

    /// <summary>Traces run at once; one more is refused with TooManyTraces.</summary>
    /// <remarks>
    /// Sized for the DaemonSet's 512 Mi memory limit. An idle open trace (8 MiB ring) costs the
    /// agent's memory cgroup 9 MiB and its resident memory 16 MiB, since the reader maps the ring
    /// twice (24 idle traces: 219 MiB charged, 425 MiB resident, from 29 MiB). Sixteen take under
    /// 180 MiB of the limit and leave the rest to busy traces, whose batches and queues add tens
    /// of MiB each (the bench's overload: 68 to 86 MiB for one trace).
    /// </remarks>
    public int MaxTraces { get; private set; } = DefaultMaxTraces;

    public const int DefaultMaxTraces = 16;

    /// <summary>containerd's API socket (k3s: /run/k3s/containerd/containerd.sock).</summary>
    public string ContainerdSocket { get; private set; } = "/run/containerd/containerd.sock";

    /// <summary>State roots of runc/crun containers run without containerd.</summary>
    public IReadOnlyList<string> RuncRoots => _runcRoots.Count > 0 ? _runcRoots : ["/run/runc", "/run/crun"];

    private readonly List<string> _runcRoots = [];

    /// <summary>
    /// The Kubernetes API whose pods of <see cref="NodeName"/> complete the containers the runtime
    /// did not label; in a pod, the API server of its cluster with the pod's service account.
    /// Null outside a cluster.
    /// </summary>
    public KubeApiSettings? KubeApi => _kubeApi is null ? null : new KubeApiSettings(_kubeApi, _kubeTokenFile, _kubeCaFile);

    private const string ServiceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount";
    private Uri? _kubeApi = InClusterApi();
    private string _kubeTokenFile = ServiceAccountDirectory + "/token";
    private string _kubeCaFile = ServiceAccountDirectory + "/ca.crt";

    /// <summary>The address the kubelet gives every pod in KUBERNETES_SERVICE_HOST and _PORT.</summary>
    private static Uri? InClusterApi()
    {
        string? host = Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_HOST");
        string? port = Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_PORT");
        if (string.IsNullOrEmpty(host) || string.IsNullOrEmpty(port))
        {
            return null;
        }

        return new Uri($"https://{(host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host)}:{port}/");
    }

    public static string Version { get; } =
        typeof(AgentOptions).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public static string KernelRelease { get; } = File.Exists("/proc/sys/kernel/osrelease")
        ? File.ReadAllText("/proc/sys/kernel/osrelease").Trim()
        : Environment.OSVersion.VersionString;

    public const string Usage = """
        gadget-agent: serves Gadget's eBPF gadgets over gRPC.

          --socket PATH        unix socket to serve on (default /run/gadget/gadget.sock, root only)
          --no-socket          do not serve on a unix socket
          --listen-port PORT   also serve on 127.0.0.1:PORT (inside a pod, for port-forward)
          --node NAME          Kubernetes node name reported with events (default: $NODE_NAME)
          --kernel-btf PATH    kernel BTF to relocate against (default /sys/kernel/btf/vmlinux)
          --ring-bytes N       size of every trace's ring buffer, rounded up to a power of two (default:
                               each gadget's own, 512 KiB for signal to 8 MiB for open)
          --max-traces N       traces run at once; one more is refused (default 16, which fits 512 MiB)
          --parent-pid PID     exit when process PID ends
          --allow-programs     run users' own eBPF programs (Invoke-GadgetProgram); off by default
          --containerd-socket PATH   containerd's socket (default /run/containerd/containerd.sock)
          --runc-root PATH     a runc/crun state root to watch (repeatable; default /run/runc, /run/crun)
          --kube-api URL       Kubernetes API whose pods on --node complete containers the runtime did not
                               label (default in a pod: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT)
          --kube-token-file PATH   its bearer token, read again as it rotates
                               (default /var/run/secrets/kubernetes.io/serviceaccount/token)
          --kube-ca-file PATH  the CA that signs its certificate, the only one trusted for it
                               (default /var/run/secrets/kubernetes.io/serviceaccount/ca.crt)
          --probe PORT         check the agent on 127.0.0.1:PORT (gRPC health) and exit 0 when it serves
        """;

    public static AgentOptions Parse(string[] args)
    {
        var options = new AgentOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--socket": options.SocketPath = Value(); break;
                case "--no-socket": options.SocketPath = null; break;
                case "--listen-port": options.ListenPort = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--node": options.NodeName = Value(); break;
                case "--kernel-btf": options.Trace = options.Trace with { KernelBtfPath = Value() }; break;
                case "--ring-bytes": options.Trace = options.Trace with { RingBytes = uint.Parse(Value(), CultureInfo.InvariantCulture) }; break;
                case "--max-traces":
                    options.MaxTraces = int.Parse(Value(), CultureInfo.InvariantCulture) is > 0 and int max
                        ? max
                        : throw new ArgumentException("--max-traces must be at least 1.");
                    break;
                case "--allow-programs": options.AllowPrograms = true; break;
                case "--parent-pid": options.ParentPid = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--containerd-socket": options.ContainerdSocket = Value(); break;
                case "--runc-root": options._runcRoots.Add(Value()); break;
                case "--kube-api": options._kubeApi = new Uri(Value(), UriKind.Absolute); break;
                case "--kube-token-file": options._kubeTokenFile = Value(); break;
                case "--kube-ca-file": options._kubeCaFile = Value(); break;
                default: throw new ArgumentException($"Unknown option '{args[i]}'.");
            }
        }

        if (options.SocketPath is null && options.ListenPort is null)
        {
            throw new ArgumentException("Nothing to serve on: give --socket or --listen-port.");
        }

        return options;
    }
}

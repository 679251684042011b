using System.Diagnostics;
using System.Formats.Tar;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Gadget.Connection;
using Gadget.KubeStub;
using Gadget.Kubernetes;
using Gadget.Protocol.V1;
using Gadget.Tests.Kernel;
using Gadget.Tracing;
using k8s.Models;
using Xunit;
using TraceOptions = Gadget.Tracing.TraceOptions;

namespace Gadget.Tests.Cluster;

/// <summary>
/// The agent image (out/image/gadget-agent.oci.tar, from <c>./build.ps1 -Task Image</c>) run the way
/// the DaemonSet runs it: imported into containerd, started by runc with the DaemonSet's arguments,
/// capabilities, host pid namespace, host path mounts and read-only root, in a network namespace
/// of its own (the pod's), and reached on its 127.0.0.1 port from inside that namespace, as the
/// kubelet's port-forward does. Its pod watch reaches an HTTPS API server with the mounted service
/// account files, which needs the OpenSSL the image carries.
/// </summary>
[Collection(KernelTests.Name)]
public sealed partial class AgentImageTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    /// <summary>Linux capability names by number (include/uapi/linux/capability.h).</summary>
    private static readonly string[] CapabilityNames =
    [
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
        "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
        "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
        "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
        "CHECKPOINT_RESTORE",
    ];

    [KernelFact]
    public async Task TheImageTracesExecsWithTheDaemonSetsCapabilitiesAndMounts()
    {
        string archive = ImageArchive();
        IReadOnlyList<string> files = LayerFiles(archive);
        Assert.Contains("gadget/gadget-agent", files);
        Assert.Contains("usr/lib/x86_64-linux-gnu/libbpf.so.1", files);
        // Loaded by name (not linked) for the pod watch's HTTPS.
        Assert.Contains("usr/lib/x86_64-linux-gnu/libssl.so.3", files);
        Assert.Contains("usr/lib/x86_64-linux-gnu/libcrypto.so.3", files);
        // The agent, shared libraries and root's passwd entry: no shell, no package manager.
        Assert.All(files, f => Assert.True(
            f.StartsWith("gadget/", StringComparison.Ordinal) || f == "etc/passwd"
                || f.StartsWith("usr/lib", StringComparison.Ordinal) && f.Contains(".so", StringComparison.Ordinal),
            $"{f} is in the image."));

        V1DaemonSet daemonSet = GadgetManifests.Build(new InstallOptions()).OfType<V1DaemonSet>().Single();
        V1PodSpec pod = daemonSet.Spec.Template.Spec;
        V1Container container = pod.Containers.Single();
        int port = container.Ports.Single().ContainerPort;

        using var containerd = PrivateContainerd.Start();
        using var network = NetworkNamespace.Create();
        containerd.Ctr("images", "import", archive);

        // drop: [ALL] and add: [...], in ctr's terms (which takes no ALL): drop every other one.
        Assert.Equal(["ALL"], container.SecurityContext.Capabilities.Drop);
        var run = new List<string> { "run", "-d", "--read-only" };
        foreach (string capability in CapabilityNames.Except(container.SecurityContext.Capabilities.Add))
        {
            run.AddRange(["--cap-drop", "CAP_" + capability]);
        }

        foreach (string capability in container.SecurityContext.Capabilities.Add)
        {
            run.AddRange(["--cap-add", "CAP_" + capability]);
        }

        Assert.True(pod.HostPID);
        // hostPID: this process's pid namespace (init's cannot be read where init runs in an
        // ancestor user namespace).
        run.AddRange(["--with-ns", $"pid:/proc/{Environment.ProcessId}/ns/pid", "--with-ns", $"network:{network.Path}"]);
        foreach (V1VolumeMount mount in container.VolumeMounts)
        {
            V1Volume volume = pod.Volumes.Single(v => v.Name == mount.Name);
            if (volume.HostPath is not null)
            {
                // containerd's socket is this test's containerd, at the path the agent expects.
                string source = volume.HostPath.Path == ContainerdSocket ? containerd.SocketPath : volume.HostPath.Path;
                string bind = volume.HostPath.Type == "Socket" ? "bind" : "rbind";
                run.AddRange(["--mount", $"type=bind,src={source},dst={mount.MountPath},options={bind}:{(mount.ReadOnlyProperty == true ? "ro" : "rw")}"]);
            }
            else
            {
                Assert.NotNull(volume.EmptyDir);
                run.AddRange(["--mount", $"type=tmpfs,src=tmpfs,dst={mount.MountPath},options=nosuid:nodev"]);
            }
        }

        // The pod watch as in a cluster: the service account's token and ca.crt where the kubelet
        // mounts them, the API server's address in the kubelet's variables, and an HTTPS API server
        // (the stub behind TLS, with a certificate the mounted CA signed) in the pod's network.
        Assert.True(pod.AutomountServiceAccountToken);
        await using KubeApiStub api = await KubeApiStub.StartAsync();
        api.AddPod("image-ns", "image-pod", "image-node");
        using var https = TlsFront.Start(api.Url, network.Listen(new IPEndPoint(IPAddress.Loopback, 0)));
        string serviceAccount = containerd.CreateDirectory("serviceaccount");
        File.Copy(https.CaFile, System.IO.Path.Combine(serviceAccount, "ca.crt"));
        File.WriteAllText(System.IO.Path.Combine(serviceAccount, "token"), KubeApiStub.Token);
        run.AddRange(["--mount", $"type=bind,src={serviceAccount},dst=/var/run/secrets/kubernetes.io/serviceaccount,options=rbind:ro"]);
        run.AddRange(["--env", "KUBERNETES_SERVICE_HOST=127.0.0.1", "--env", $"KUBERNETES_SERVICE_PORT={https.Url.Port}"]);

        run.AddRange(["--env", "NODE_NAME=image-node", ImageName(daemonSet), containerd.ContainerId]);
        run.AddRange([Entrypoint, .. container.Args]);
        containerd.Ctr([.. run]);

        // The readiness probe of the DaemonSet, run inside the container, until the agent serves.
        Assert.True(Eventually.True(() => containerd.TryExec(container.ReadinessProbe.Exec.Command), Wait),
            $"The agent in the image never became ready.{Environment.NewLine}{containerd.Log}");
        int agentPid = containerd.TaskPid();
        Assert.Equal(container.SecurityContext.Capabilities.Add.Order(), EffectiveCapabilities(agentPid).Order());

        // A watch follows only a list that came through TLS, authenticated and parsed.
        Assert.True(Eventually.True(() => api.Requests.Any(r => r.StartsWith("GET /api/v1/pods?fieldSelector=spec.nodeName%3Dimage-node&watch=true", StringComparison.Ordinal)), Wait),
            $"The agent in the image did not watch its node's pods over HTTPS. Requests: {string.Join(", ", api.Requests)}");

        using AgentConnection connection = AgentConnection.ForStream("image-node", token => network.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), token));
        AgentInfo info = await connection.GetInfoAsync(CancellationToken.None);
        Assert.Equal("image-node", info.Node);

        string marker = $"image-{Guid.NewGuid():N}";
        var options = new TraceOptions { Gadget = "exec", Comm = "echo", Containers = ContainerSelection.HostOnly };
        using TraceSession trace = TraceSession.Start(connection, options, info.Node, CancellationToken.None);
        Assert.True(trace.Attached.Wait(Wait), $"The exec gadget did not attach.{Environment.NewLine}{containerd.Log}");
        ExecEvent? seen = null;
        int echoPid = 0;
        var clock = Stopwatch.StartNew();
        while (seen is null && clock.Elapsed < Wait)
        {
            using (Process echo = HostProcess.Start("/bin/echo", marker))
            {
                echoPid = echo.Id;
                echo.WaitForExit();
            }

            while (seen is null && trace.TryTake(out object? item, TimeSpan.FromMilliseconds(300), CancellationToken.None))
            {
                Assert.False(item is GadgetException, (item as GadgetException)?.Message);
                if (item is ExecEvent exec && exec.Args.Contains(marker) && exec.Pid == echoPid)
                {
                    seen = exec;
                }
            }
        }

        Assert.True(seen is not null, $"No exec event of /bin/echo {marker} came through the image's agent.{Environment.NewLine}{containerd.Log}");
        Assert.Null(seen.Container);

        // The socket snapshot joins the host's network namespace, which the agent's pod is not in:
        // a listener of this test's is there, held by this process.
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int listening = ((IPEndPoint)listener.LocalEndpoint).Port;
        using TraceSession sockets = TraceSession.Start(connection, new TraceOptions { Gadget = "socket" }, info.Node, CancellationToken.None);
        SocketEntry? mine = null;
        while (sockets.TryTake(out object? item, Wait, CancellationToken.None))
        {
            Assert.False(item is GadgetException, (item as GadgetException)?.Message);
            if (item is SocketEntry { State: SocketState.Listen } entry && entry.Local.Port == listening)
            {
                mine = entry;
            }
        }

        Assert.True(mine is not null, $"The image's agent did not list this test's listener on port {listening}.{Environment.NewLine}{containerd.Log}");
        Assert.Equal(Environment.ProcessId, mine.Pid);
    }

    private const string ContainerdSocket = "/run/containerd/containerd.sock";

    /// <summary>The image's ENTRYPOINT (deploy/Containerfile); the DaemonSet gives only its args.</summary>
    private const string Entrypoint = "/gadget/gadget-agent";

    /// <summary>$GADGET_AGENT_IMAGE, or out/image/gadget-agent.oci.tar of this repository.</summary>
    private static string ImageArchive()
    {
        if (Environment.GetEnvironmentVariable("GADGET_AGENT_IMAGE") is { Length: > 0 } path)
        {
            return path;
        }

        string? directory = AppContext.BaseDirectory;
        while (directory is not null && !File.Exists(Path.Combine(directory, "Gadget.sln")))
        {
            directory = Path.GetDirectoryName(directory);
        }

        string archive = Path.Combine(directory ?? ".", "out", "image", "gadget-agent.oci.tar");
        Assert.True(File.Exists(archive), $"{archive} is missing: build it with ./build.ps1 -Task Image.");
        return archive;
    }

    /// <summary>The regular files of the image's only layer (index.json → manifest → layer).</summary>
    private static List<string> LayerFiles(string archive)
    {
        var small = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        ForEachEntry(archive, entry =>
        {
            if (entry.DataStream is { Length: < 1 << 20 } data)
            {
                var copy = new MemoryStream();
                data.CopyTo(copy);
                small[entry.Name] = copy.ToArray();
            }
        });

        string Blob(JsonNode descriptor) => "blobs/sha256/" + ((string)descriptor["digest"]!)["sha256:".Length..];
        JsonNode index = JsonNode.Parse(small["index.json"])!;
        JsonNode manifest = JsonNode.Parse(small[Blob(Assert.Single(index["manifests"]!.AsArray())!)])!;
        string layer = Blob(Assert.Single(manifest["layers"]!.AsArray())!);
        var files = new List<string>();
        ForEachEntry(archive, entry =>
        {
            if (entry.Name == layer)
            {
                using var reader = new TarReader(entry.DataStream!);
                while (reader.GetNextEntry() is TarEntry file)
                {
                    if (file.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile)
                    {
                        files.Add(file.Name.TrimStart('.', '/'));
                    }
                }
            }
        });
        return files;
    }

    private static void ForEachEntry(string archive, Action<TarEntry> action)
    {
        using var reader = new TarReader(File.OpenRead(archive));
        while (reader.GetNextEntry() is TarEntry entry)
        {
            action(entry);
        }
    }

    /// <summary>The DaemonSet's image, fully qualified as containerd names it on import.</summary>
    private static string ImageName(V1DaemonSet daemonSet) => daemonSet.Spec.Template.Spec.Containers[0].Image;

    private static IEnumerable<string> EffectiveCapabilities(int pid)
    {
        string line = File.ReadLines($"/proc/{pid}/status").Single(l => l.StartsWith("CapEff:", StringComparison.Ordinal));
        ulong mask = ulong.Parse(line["CapEff:".Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        for (int bit = 0; bit < 64; bit++)
        {
            if ((mask & (1UL << bit)) != 0)
            {
                yield return bit < CapabilityNames.Length ? CapabilityNames[bit] : $"CAP_{bit}";
            }
        }
    }

    /// <summary>A containerd of the test's own (socket, root and state in a temporary folder), stopped at the end.</summary>
    private sealed class PrivateContainerd : IDisposable
    {
        private const string Namespace = "gadget-image";
        private readonly Process _process;
        private readonly string _directory;
        private readonly System.Text.StringBuilder _log = new();

        private PrivateContainerd(string directory)
        {
            _directory = directory;
            SocketPath = System.IO.Path.Combine(directory, "containerd.sock");
            string config = System.IO.Path.Combine(directory, "config.toml");
            File.WriteAllText(config, $"""
                version = 2
                root = "{directory}/root"
                state = "{directory}/state"
                disabled_plugins = ["io.containerd.grpc.v1.cri"]
                [grpc]
                  address = "{SocketPath}"
                [ttrpc]
                  address = "{SocketPath}.ttrpc"
                """);
            var start = new ProcessStartInfo("containerd", ["--config", config])
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            _process = Process.Start(start) ?? throw new InvalidOperationException("Could not start containerd.");
            _process.OutputDataReceived += (_, e) => Append(e.Data);
            _process.ErrorDataReceived += (_, e) => Append(e.Data);
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public string SocketPath { get; }

        public string ContainerId { get; } = $"gadget-agent-{Guid.NewGuid():N}"[..24];

        public string Log
        {
            get
            {
                lock (_log)
                {
                    return _log.ToString();
                }
            }
        }

        public static PrivateContainerd Start()
        {
            var containerd = new PrivateContainerd(Directory.CreateTempSubdirectory("gadget-image-").FullName);
            if (!Eventually.True(() => containerd.TryCtr(["version"], out _), TimeSpan.FromSeconds(30)))
            {
                containerd.Dispose();
                throw new InvalidOperationException($"containerd did not start.{Environment.NewLine}{containerd.Log}");
            }

            return containerd;
        }

        /// <summary>A directory in the test's folder (removed with it), for files mounted into the container.</summary>
        public string CreateDirectory(string name) => Directory.CreateDirectory(System.IO.Path.Combine(_directory, name)).FullName;

        public string Ctr(params string[] arguments)
            => TryCtr(arguments, out string output) ? output : throw new InvalidOperationException($"ctr {string.Join(' ', arguments)} failed: {output}");

        public bool TryExec(IEnumerable<string> command)
            => TryCtr(["task", "exec", "--exec-id", $"probe-{Guid.NewGuid():N}"[..14], ContainerId, .. command], out _);

        public int TaskPid()
        {
            foreach (string line in Ctr("task", "ls").Split('\n'))
            {
                string[] columns = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (columns.Length >= 2 && columns[0] == ContainerId)
                {
                    return int.Parse(columns[1], CultureInfo.InvariantCulture);
                }
            }

            throw new InvalidOperationException($"{ContainerId} has no task.");
        }

        public void Dispose()
        {
            TryCtr(["task", "kill", "-s", "SIGKILL", ContainerId], out _);
            Eventually.True(() => TryCtr(["task", "rm", "-f", ContainerId], out string output) || output.Contains("not found", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
            TryCtr(["container", "rm", ContainerId], out _);
            Gadget.Connection.LocalAgent.Stop(_process);
            _process.Dispose();
            // Snapshots are overlay mounts under root/ until containerd unmounts them.
            foreach (string mount in File.ReadAllLines("/proc/self/mounts").Select(l => l.Split(' ')[1]).Where(m => m.StartsWith(_directory, StringComparison.Ordinal)).Reverse())
            {
                using Process umount = Process.Start("umount", ["-l", mount]);
                umount.WaitForExit();
            }

            Directory.Delete(_directory, recursive: true);
            RemoveNamespaceCgroups();
        }

        /// <summary>
        /// containerd makes a cgroup named after its namespace in every hierarchy and leaves it behind,
        /// empty, when its last container goes; rmdir is how a cgroup is removed.
        /// </summary>
        private static void RemoveNamespaceCgroups()
        {
            foreach (string hierarchy in Directory.GetDirectories("/sys/fs/cgroup").Append("/sys/fs/cgroup"))
            {
                string cgroup = System.IO.Path.Combine(hierarchy, Namespace);
                if (Directory.Exists(cgroup) && Directory.GetDirectories(cgroup).Length == 0)
                {
                    try
                    {
                        Directory.Delete(cgroup);
                    }
                    catch (IOException)
                    {
                        // Still busy (a process is left in it): leave it rather than fail the test.
                    }
                }
            }
        }

        private void Append(string? line)
        {
            if (line is not null)
            {
                lock (_log)
                {
                    _log.AppendLine(line);
                }
            }
        }

        private bool TryCtr(string[] arguments, out string output)
        {
            var start = new ProcessStartInfo("ctr", ["--address", SocketPath, "--namespace", Namespace, .. arguments])
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using Process ctr = Process.Start(start) ?? throw new InvalidOperationException("Could not run ctr.");
            Task<string> stdout = ctr.StandardOutput.ReadToEndAsync();
            Task<string> stderr = ctr.StandardError.ReadToEndAsync();
            if (!ctr.WaitForExit(TimeSpan.FromSeconds(60)))
            {
                ctr.Kill();
                output = "timed out";
                return false;
            }

            output = stdout.Result + stderr.Result;
            return ctr.ExitCode == 0;
        }
    }

    /// <summary>A named network namespace (ip netns) with its loopback up: the pod's network.</summary>
    private sealed partial class NetworkNamespace : IDisposable
    {
        private const int CloneNewNet = 0x40000000;

        private NetworkNamespace(string name)
        {
            Name = name;
            Path = $"/run/netns/{name}";
        }

        public string Name { get; }

        public string Path { get; }

        public static NetworkNamespace Create()
        {
            var network = new NetworkNamespace($"gadget-image-{Guid.NewGuid():N}"[..21]);
            Ip("netns", "add", network.Name);
            Ip("-n", network.Name, "link", "set", "lo", "up");
            return network;
        }

        /// <summary>A TCP connection made from inside the namespace.</summary>
        public async ValueTask<Stream> ConnectAsync(IPEndPoint endpoint, CancellationToken token)
        {
            Socket socket = CreateSocket();
            try
            {
                await socket.ConnectAsync(endpoint, token);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        /// <summary>A TCP socket listening inside the namespace on <paramref name="endpoint"/> (port 0: any).</summary>
        public Socket Listen(IPEndPoint endpoint)
        {
            Socket socket = CreateSocket();
            try
            {
                socket.Bind(endpoint);
                socket.Listen();
                return socket;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        /// <summary>A TCP socket of the namespace: created on a thread that joined it (a socket belongs to the network namespace it was created in).</summary>
        private Socket CreateSocket()
        {
            Socket? socket = null;
            Exception? failure = null;
            var thread = new Thread(() =>
            {
                try
                {
                    using Microsoft.Win32.SafeHandles.SafeFileHandle ns = File.OpenHandle(Path);
                    if (SetNs((int)ns.DangerousGetHandle(), CloneNewNet) != 0)
                    {
                        throw new IOException($"setns({Path}) failed: errno {Marshal.GetLastPInvokeError()}");
                    }

                    socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                }
                catch (Exception exception) when (exception is IOException or SocketException)
                {
                    failure = exception;
                }
            });
            thread.Start();
            thread.Join();
            return socket ?? throw failure!;
        }

        public void Dispose() => Ip("netns", "delete", Name);

        private static void Ip(params string[] arguments)
        {
            using Process ip = Process.Start(new ProcessStartInfo("ip", arguments) { UseShellExecute = false, RedirectStandardError = true })
                ?? throw new InvalidOperationException("Could not run ip.");
            string error = ip.StandardError.ReadToEnd();
            ip.WaitForExit();
            if (ip.ExitCode != 0)
            {
                throw new InvalidOperationException($"ip {string.Join(' ', arguments)} failed: {error}");
            }
        }

        [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
        private static partial int SetNs(int fd, int nstype);
    }
}

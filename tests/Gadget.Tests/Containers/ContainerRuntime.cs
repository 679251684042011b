using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Gadget.Tests.Containers;

/// <summary>
/// Real containers for tests: containerd and runc from Debian, a root file system made of
/// busybox-static, and the labels the kubelet puts on a pod's containers. Uses the running
/// containerd, or starts one for the test run and stops it afterwards.
/// </summary>
public sealed class ContainerRuntime : IDisposable
{
    public const string SocketPath = "/run/containerd/containerd.sock";
    public const string RuntimeNamespace = "k8s.io";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private Process? _containerd;
    private bool _started;
    private readonly List<string> _containers = [];
    private readonly string _workDirectory = Directory.CreateTempSubdirectory("gadget-containers-").FullName;

    /// <summary>Connects to containerd, starting it if needed (first use only, so skipped tests start nothing).</summary>
    private void EnsureStarted()
    {
        if (_started)
        {
            return;
        }

        _started = true;
        if (!Accepts())
        {
            _containerd = Process.Start(new ProcessStartInfo("containerd")
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            }) ?? throw new InvalidOperationException("Could not start containerd (apt-get install containerd).");
            _containerd.OutputDataReceived += (_, _) => { };
            _containerd.ErrorDataReceived += (_, _) => { };
            _containerd.BeginOutputReadLine();
            _containerd.BeginErrorReadLine();
            var clock = Stopwatch.StartNew();
            while (!Accepts())
            {
                if (_containerd.HasExited || clock.Elapsed > StartTimeout)
                {
                    throw new InvalidOperationException("containerd did not start listening on " + SocketPath);
                }

                Thread.Sleep(100);
            }
        }
    }

    /// <summary>
    /// Starts a container in the background as the kubelet would label it for pod
    /// <paramref name="podNamespace"/>/<paramref name="pod"/>, running <paramref name="command"/>
    /// under busybox's sh. Returns the container id.
    /// </summary>
    public string Run(string podNamespace, string pod, string container, string command, IReadOnlyDictionary<string, string>? podLabels = null, bool hostNetwork = false)
    {
        EnsureStarted();
        string id = $"{pod}-{Guid.NewGuid():N}"[..30];
        string rootfs = CreateRootfs(id);
        var arguments = new List<string> { "-n", RuntimeNamespace, "run", "-d", "--rootfs" };
        if (hostNetwork)
        {
            arguments.Add("--net-host");
        }

        var labels = new Dictionary<string, string>(podLabels ?? new Dictionary<string, string>())
        {
            ["io.kubernetes.pod.namespace"] = podNamespace,
            ["io.kubernetes.pod.name"] = pod,
            ["io.kubernetes.pod.uid"] = Guid.NewGuid().ToString(),
            ["io.kubernetes.container.name"] = container,
        };
        foreach ((string key, string value) in labels)
        {
            arguments.Add("--label");
            arguments.Add($"{key}={value}");
        }

        arguments.AddRange([rootfs, id, "/bin/sh", "-c", command]);
        Ctr(arguments);
        lock (_containers)
        {
            _containers.Add(id);
        }

        return id;
    }

    /// <summary>The host pid of a container's first process.</summary>
    public static int PidOf(string id)
    {
        string output = Ctr(["-n", RuntimeNamespace, "task", "ls"]);
        foreach (string line in output.Split('\n'))
        {
            string[] columns = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (columns.Length >= 2 && columns[0] == id && int.TryParse(columns[1], out int pid))
            {
                return pid;
            }
        }

        throw new InvalidOperationException($"Container {id} has no running task:{Environment.NewLine}{output}");
    }

    public void Remove(string id)
    {
        TryCtr(["-n", RuntimeNamespace, "task", "kill", "-s", "SIGKILL", id]);
        for (int attempt = 0; attempt < 50; attempt++)
        {
            if (TryCtr(["-n", RuntimeNamespace, "task", "rm", "-f", id]) || !TaskExists(id))
            {
                break;
            }

            Thread.Sleep(100);
        }

        TryCtr(["-n", RuntimeNamespace, "container", "rm", id]);
        lock (_containers)
        {
            _containers.Remove(id);
        }
    }

    public void Dispose()
    {
        string[] remaining;
        lock (_containers)
        {
            remaining = [.. _containers];
        }

        foreach (string id in remaining)
        {
            Remove(id);
        }

        if (_containerd is not null)
        {
            Gadget.Connection.LocalAgent.Stop(_containerd);
            _containerd.Dispose();
        }

        try
        {
            Directory.Delete(_workDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A container's leftovers; the temp folder is cleaned by the system.
        }
    }

    /// <summary>A busybox-static root file system with the applets the tests use.</summary>
    private string CreateRootfs(string id)
    {
        string root = Path.Combine(_workDirectory, id);
        foreach (string directory in new[] { "bin", "etc", "proc", "sys", "dev", "tmp", "root" })
        {
            Directory.CreateDirectory(Path.Combine(root, directory));
        }

        File.Copy("/bin/busybox", Path.Combine(root, "bin", "busybox"));
        foreach (string applet in new[] { "sh", "sleep", "true", "echo", "cat", "nslookup", "touch", "ls" })
        {
            File.CreateSymbolicLink(Path.Combine(root, "bin", applet), "busybox");
        }

        File.WriteAllText(Path.Combine(root, "etc", "resolv.conf"), "nameserver 127.0.0.1\n");
        return root;
    }

    private static bool TaskExists(string id) => Ctr(["-n", RuntimeNamespace, "task", "ls"]).Contains(id, StringComparison.Ordinal);

    private static bool Accepts()
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(SocketPath));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static bool TryCtr(IEnumerable<string> arguments)
    {
        try
        {
            Ctr(arguments);
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static string Ctr(IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo("ctr") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process ctr = Process.Start(start) ?? throw new InvalidOperationException("Could not run ctr.");
        Task<string> stdout = ctr.StandardOutput.ReadToEndAsync();
        Task<string> stderr = ctr.StandardError.ReadToEndAsync();
        if (!ctr.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            ctr.Kill();
            throw new InvalidOperationException($"ctr {string.Join(' ', start.ArgumentList)} did not finish.");
        }

        return ctr.ExitCode == 0
            ? stdout.Result
            : throw new InvalidOperationException($"ctr {string.Join(' ', start.ArgumentList)} failed ({ctr.ExitCode}): {stderr.Result}");
    }
}

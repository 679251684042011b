using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Gadget.Tests.Containers;

/// <summary>
/// A container run by runc alone, without containerd: an OCI bundle with a busybox-static root
/// file system, run detached under runc's default state root (where the agent looks). Dispose
/// kills and deletes it, with the cgroup directories runc made for it.
/// </summary>
internal sealed class RuncContainer : IDisposable
{
    private const string CgroupRoot = "/sys/fs/cgroup";
    private readonly string _bundle = Directory.CreateTempSubdirectory("gadget-runc-").FullName;
    private readonly string? _cgroupsPath;
    private bool _started;

    private RuncContainer(string id, string? cgroupsPath)
    {
        Id = id;
        _cgroupsPath = cgroupsPath;
    }

    public string Id { get; }

    /// <summary>
    /// Runs <paramref name="script"/> under busybox's sh in a new container, with these OCI
    /// annotations (CRI-O puts the kubelet's keys there) and in this cgroup (runc's default otherwise).
    /// </summary>
    public static RuncContainer Start(string id, string script, IReadOnlyDictionary<string, string>? annotations = null, string? cgroupsPath = null)
    {
        var container = new RuncContainer(id, cgroupsPath);
        try
        {
            container.Run(script, annotations ?? new Dictionary<string, string>());
            return container;
        }
        catch
        {
            container.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (_started)
        {
            Runc("kill", Id, "KILL");
            for (int attempt = 0; attempt < 50 && !Runc("delete", "-f", Id); attempt++)
            {
                Thread.Sleep(100);
            }
        }

        RemoveCgroupParents();
        Directory.Delete(_bundle, recursive: true);
    }

    private void Run(string script, IReadOnlyDictionary<string, string> annotations)
    {
        string rootfs = Path.Combine(_bundle, "rootfs");
        foreach (string directory in new[] { "bin", "proc", "sys", "dev", "tmp", "etc" })
        {
            Directory.CreateDirectory(Path.Combine(rootfs, directory));
        }

        File.Copy("/bin/busybox", Path.Combine(rootfs, "bin", "busybox"));
        foreach (string applet in new[] { "sh", "sleep", "echo", "true" })
        {
            File.CreateSymbolicLink(Path.Combine(rootfs, "bin", applet), "busybox");
        }

        if (!Runc("spec", "--bundle", _bundle))
        {
            throw new InvalidOperationException("runc spec failed.");
        }

        string configPath = Path.Combine(_bundle, "config.json");
        JsonNode config = JsonNode.Parse(File.ReadAllText(configPath))!;
        config["process"]!["terminal"] = false;
        config["process"]!["args"] = new JsonArray("/bin/sh", "-c", script);
        config["root"] = new JsonObject { ["path"] = "rootfs", ["readonly"] = false };
        config["annotations"] = new JsonObject([.. annotations.Select(a => KeyValuePair.Create(a.Key, (JsonNode?)a.Value))]);
        if (_cgroupsPath is not null)
        {
            config["linux"]!["cgroupsPath"] = _cgroupsPath;
        }

        File.WriteAllText(configPath, config.ToJsonString());
        // A detached container keeps the stdio runc was given: hand it files, not this process's pipes,
        // or reading runc's output would wait for the container to end.
        string log = Path.Combine(_bundle, "container.log");
        _started = Command("/bin/sh", "-c", $"exec runc run -d --bundle '{_bundle}' {Id} </dev/null >'{log}' 2>&1");
        if (!_started)
        {
            throw new InvalidOperationException($"runc run failed: {File.ReadAllText(log)}");
        }
    }

    /// <summary>runc removes the container's own cgroup; the parents it made are removed here, in every hierarchy.</summary>
    private void RemoveCgroupParents()
    {
        if (_cgroupsPath is null)
        {
            return;
        }

        string[] segments = _cgroupsPath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        foreach (string hierarchy in Directory.GetDirectories(CgroupRoot).Prepend(CgroupRoot))
        {
            for (int depth = segments.Length; depth > 0; depth--)
            {
                string directory = Path.Combine([hierarchy, .. segments[..depth]]);
                if (Directory.Exists(directory))
                {
                    try
                    {
                        Directory.Delete(directory);
                    }
                    catch (IOException)
                    {
                        break; // still in use (another container below it)
                    }
                }
            }
        }
    }

    private static bool Runc(params string[] arguments) => Command("runc", arguments);

    private static bool Command(string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName) { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process runc = Process.Start(start)!;
        runc.StandardInput.Close();
        Task<string> output = runc.StandardOutput.ReadToEndAsync();
        Task<string> errors = runc.StandardError.ReadToEndAsync();
        if (!runc.WaitForExit(TimeSpan.FromSeconds(20)))
        {
            runc.Kill();
            return false;
        }

        _ = output.Result + errors.Result;
        return runc.ExitCode == 0;
    }
}

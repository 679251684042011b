using System.Text.Json;

namespace Gadget.Agent.Containers;

/// <summary>
/// Containers run by runc (or crun) directly, without containerd: their state directories under
/// the runtime roots. Kubernetes labels come from the bundle's OCI annotations (CRI-O writes the
/// same io.kubernetes.* keys there). containerd's own runc roots are left to the containerd source.
/// </summary>
internal sealed class RuncSource(ContainerCollection collection, IReadOnlyList<string> roots, ILogger logger)
{
    public const string Name = "runc";
    private static readonly TimeSpan ScanInterval = TimeSpan.FromSeconds(1);

    public async Task RunAsync(CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            try
            {
                // Requests first, then the time: a request taken here was made before the scan
                // started, so the scan answers it; one made later stays for the next scan.
                collection.TakeRefreshRequests(Name);
                long started = System.Diagnostics.Stopwatch.GetTimestamp();
                collection.Replace(Name, Scan(), started);
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or JsonException)
            {
                ContainerLog.SourceFailed(logger, Name, exception.Message);
            }

            try
            {
                Task refresh = collection.WaitForRefreshRequestAsync(Name, token);
                await Task.WhenAny(Task.Delay(ScanInterval, token), refresh).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private List<ContainerRecord> Scan()
    {
        var found = new List<ContainerRecord>();
        foreach (string root in roots.Where(Directory.Exists))
        {
            foreach (string stateFile in Directory.EnumerateFiles(root, "state.json", SearchOption.AllDirectories))
            {
                if (Read(stateFile) is ContainerRecord record)
                {
                    found.Add(record);
                }
            }
        }

        return found;
    }

    private static ContainerRecord? Read(string stateFile)
    {
        using JsonDocument state = JsonDocument.Parse(File.ReadAllBytes(stateFile));
        JsonElement rootElement = state.RootElement;
        if (!rootElement.TryGetProperty("init_process_pid", out JsonElement pidElement) || pidElement.GetInt32() is var pid && pid <= 0)
        {
            return null;
        }

        ulong mountNs = ProcessNamespaces.Inode(pid, "mnt");
        if (mountNs == 0)
        {
            return null; // stopped: the state stays until the container is deleted
        }

        string id = rootElement.TryGetProperty("id", out JsonElement idElement) ? idElement.GetString() ?? string.Empty : Path.GetFileName(Path.GetDirectoryName(stateFile)!);
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (BundleOf(rootElement) is string bundle && File.Exists(Path.Combine(bundle, "config.json")))
        {
            using JsonDocument config = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(bundle, "config.json")));
            if (config.RootElement.TryGetProperty("annotations", out JsonElement annotations) && annotations.ValueKind == JsonValueKind.Object)
            {
                foreach (JsonProperty annotation in annotations.EnumerateObject())
                {
                    labels[annotation.Name] = annotation.Value.GetString() ?? string.Empty;
                }
            }
        }

        return new ContainerRecord
        {
            Id = id,
            Name = id,
            Runtime = Name,
            Pid = pid,
            MountNsId = mountNs,
            NetNsId = ProcessNamespaces.Inode(pid, "net"),
            CgroupPath = ProcessNamespaces.CgroupPath(pid),
        }.WithKubernetesLabels(labels);
    }

    /// <summary>runc keeps the bundle path as the label "bundle=/path" in its state's config.</summary>
    private static string? BundleOf(JsonElement state)
    {
        if (state.TryGetProperty("config", out JsonElement config) && config.TryGetProperty("labels", out JsonElement labels) && labels.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement label in labels.EnumerateArray())
            {
                if (label.GetString() is string text && text.StartsWith("bundle=", StringComparison.Ordinal))
                {
                    return text["bundle=".Length..];
                }
            }
        }

        return null;
    }
}

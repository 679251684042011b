using System.Collections.Concurrent;
using Gadget.Agent.Containers;
using Gadget.KubeStub;
using Gadget.Tests.Cluster;
using Gadget.Tests.Kernel;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Gadget.Tests.Containers;

/// <summary>
/// The agent's pod source against the stub API server: it lists and watches the pods of its node
/// and completes, by pod uid, the containers whose runtime did not label them.
/// </summary>
public sealed class PodSourceTests : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private static readonly PodSource.Backoff QuickRetries = new(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(400));
    private readonly string _directory = Directory.CreateTempSubdirectory("gadget-pods-").FullName;
    private readonly ContainerCollection _collection = new();
    private readonly RecordingLogger _logger = new();
    private readonly CancellationTokenSource _stop = new();
    private KubeApiStub _stub = null!;
    private Task _source = Task.CompletedTask;

    public async Task InitializeAsync()
    {
        _stub = await KubeApiStub.StartAsync();
        TokenFile = Path.Combine(_directory, "token");
        File.WriteAllText(TokenFile, KubeApiStub.Token + "\n");
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        await _source;
        await _stub.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    public void Dispose() => _stop.Dispose();

    private string TokenFile { get; set; } = string.Empty;

    [Fact]
    public async Task ListedPodsCompleteTheirContainersAndPodsOfOtherNodesDoNot()
    {
        string mine = _stub.AddPod("my-ns", "my-app", "node-a", new Dictionary<string, string> { ["app"] = "web" }, new Dictionary<string, string> { ["web"] = "c1" });
        string other = _stub.AddPod("other-ns", "other-app", "node-b", new Dictionary<string, string> { ["app"] = "db" });
        RunContainers(Unlabelled("c1", 1, mine), Unlabelled("c2", 2, other));

        StartSource();

        ContainerRecord completed = EventuallyContainer(1, c => c.PodName == "my-app");
        Assert.Equal("my-ns", completed.PodNamespace);
        Assert.Equal(mine, completed.PodUid);
        Assert.Equal("web", completed.ContainerName);
        Assert.Equal("web", completed.PodLabels["app"]);
        Assert.True(_collection.TryGetByMountNs(2, out ContainerRecord notMine));
        Assert.Equal(string.Empty, notMine.PodName);
        Assert.Equal("c2", notMine.ContainerName);
        Assert.Contains(_stub.Requests, r => r == "GET /api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a");
    }

    [Fact]
    public async Task WatchedChangesReachTheContainersAndTellTheTraces()
    {
        string uid = Guid.NewGuid().ToString();
        RunContainers(Unlabelled("c1", 1, uid));
        int changes = 0;
        _collection.Changed += () => Interlocked.Increment(ref changes);
        StartSource();
        await WaitForWatchAsync();

        // The pod arrives after its container.
        _stub.AddPod("ns1", "late", "node-a", new Dictionary<string, string> { ["app"] = "v1" }, uid: uid);
        EventuallyContainer(1, c => c.PodName == "late" && c.PodLabels.GetValueOrDefault("app") == "v1");

        int before = Volatile.Read(ref changes);
        _stub.SetPodLabels("ns1", "late", new Dictionary<string, string> { ["app"] = "v2" });
        EventuallyContainer(1, c => c.PodLabels.GetValueOrDefault("app") == "v2");
        Assert.True(Volatile.Read(ref changes) > before, "A label change did not raise Changed, so traces would not reselect.");

        _stub.DeletePod("ns1", "late");
        ContainerRecord orphan = EventuallyContainer(1, c => c.PodName.Length == 0);
        Assert.Empty(orphan.PodLabels);
    }

    [Fact]
    public async Task AVersionTheServerForgotMakesTheSourceListAgain()
    {
        string uid = _stub.AddPod("ns1", "p", "node-a", new Dictionary<string, string> { ["app"] = "v1" });
        RunContainers(Unlabelled("c1", 1, uid));
        StartSource();
        EventuallyContainer(1, c => c.PodLabels.GetValueOrDefault("app") == "v1");
        await WaitForWatchAsync();

        // The source cannot watch while the pod changes and the server forgets that change; when it
        // may again, its version is too old (410 Expired) and only a new list shows the change.
        _stub.Denied["watch pods"] = true;
        _stub.EndWatches();
        Assert.True(Eventually.True(() => _logger.Warnings.Count > 0, Wait), "The refused watch was not warned of.");
        _stub.SetPodLabels("ns1", "p", new Dictionary<string, string> { ["app"] = "v2" });
        _stub.ForgetWatchHistory();
        _stub.Denied.TryRemove("watch pods", out _);

        EventuallyContainer(1, c => c.PodLabels.GetValueOrDefault("app") == "v2");
        Assert.Equal(2, Lists());
        Assert.Contains("forbidden", Assert.Single(_logger.Warnings), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AfterTheApiServerRestartsTheSourceListsAgainAndSeesWhatChangedMeanwhile()
    {
        string uid = _stub.AddPod("ns1", "p", "node-a", new Dictionary<string, string> { ["app"] = "v1" });
        string gone = _stub.AddPod("ns1", "gone", "node-a");
        RunContainers(Unlabelled("c1", 1, uid), Unlabelled("c2", 2, gone));
        StartSource();
        EventuallyContainer(2, c => c.PodName == "gone");
        await WaitForWatchAsync();

        await _stub.StopAsync();
        _stub.SetPodLabels("ns1", "p", new Dictionary<string, string> { ["app"] = "v2" });
        _stub.DeletePod("ns1", "gone");
        Assert.True(Eventually.True(() => _logger.Warnings.Count > 0, Wait), "The outage was not warned of.");
        await _stub.RestartAsync();

        EventuallyContainer(1, c => c.PodLabels.GetValueOrDefault("app") == "v2");
        EventuallyContainer(2, c => c.PodName.Length == 0);
        Assert.Equal(2, Lists());
        Assert.Single(_logger.Warnings);
        Assert.Contains(_logger.Messages, m => m.Contains("answers again", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnUnreachableApiIsWarnedOfOnceAndTriedUntilItAnswers()
    {
        _collection.ExpectPods();
        string uid = _stub.AddPod("ns1", "p", "node-a");
        RunContainers(Unlabelled("c1", 1, uid));
        await _stub.StopAsync();

        StartSource();

        // The first failed list lets traces start without the pods.
        await _collection.InitialScan.WaitAsync(Wait);
        await Task.Delay(TimeSpan.FromSeconds(2));
        string warning = Assert.Single(_logger.Warnings);
        Assert.Contains(_stub.Url.ToString(), warning, StringComparison.Ordinal);
        Assert.Contains("node-a", warning, StringComparison.Ordinal);
        Assert.False(_source.IsCompleted);

        await _stub.RestartAsync();
        EventuallyContainer(1, c => c.PodName == "p");
        Assert.Single(_logger.Warnings);
    }

    [Fact]
    public async Task ARotatedTokenIsReadAgainAfterTheServerRefusedTheOldOne()
    {
        string uid = _stub.AddPod("ns1", "p", "node-a");
        RunContainers(Unlabelled("c1", 1, uid));
        File.WriteAllText(TokenFile, "expired-token");

        StartSource();

        Assert.True(Eventually.True(() => _logger.Warnings.Count > 0, Wait), "A 401 was not warned of.");
        Assert.Contains("Unauthorized", _logger.Warnings[0], StringComparison.Ordinal);
        File.WriteAllText(TokenFile, KubeApiStub.Token);
        EventuallyContainer(1, c => c.PodName == "p");
    }

    [Fact]
    public async Task OverHttpsOnlyTheClusterCaIsTrusted()
    {
        string uid = _stub.AddPod("ns1", "p", "node-a");
        RunContainers(Unlabelled("c1", 1, uid));
        using var front = TlsFront.Start(_stub.Url);

        StartSource(front.Url, front.WriteUnrelatedCa());
        Assert.True(Eventually.True(() => _logger.Warnings.Count > 0, Wait), "A server the CA did not sign was not refused.");
        Assert.True(_collection.TryGetByMountNs(1, out ContainerRecord unknown));
        Assert.Equal(string.Empty, unknown.PodName);
        Assert.Equal(0, Lists());
        await _stop.CancelAsync();
        await _source;

        using var again = new CancellationTokenSource();
        StartSource(front.Url, front.CaFile, again.Token);
        EventuallyContainer(1, c => c.PodName == "p");
        await again.CancelAsync();
        await _source;
    }

    /// <summary>A runc container without kubelet labels, in the cgroup the kubelet makes for pod <paramref name="podUid"/> (systemd driver).</summary>
    private static ContainerRecord Unlabelled(string id, ulong mountNs, string podUid)
        => TestContainers.Runc(id, mountNs, $"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{podUid.Replace('-', '_')}.slice/cri-{id}.scope")
            .WithKubernetesLabels(new Dictionary<string, string>());

    private void RunContainers(params ContainerRecord[] containers)
    {
        _collection.ExpectSources(1);
        _collection.Replace("test", containers, System.Diagnostics.Stopwatch.GetTimestamp());
    }

    private void StartSource(Uri? server = null, string? caFile = null, CancellationToken? token = null)
    {
        var source = new PodSource(_collection, new KubeApiSettings(server ?? _stub.Url, TokenFile, caFile ?? Path.Combine(_directory, "none.crt")), "node-a", _logger, QuickRetries);
        _source = source.RunAsync(token ?? _stop.Token);
    }

    private ContainerRecord EventuallyContainer(ulong mountNs, Func<ContainerRecord, bool> condition)
    {
        ContainerRecord? found = null;
        bool seen = Eventually.True(() => _collection.TryGetByMountNs(mountNs, out ContainerRecord c) && condition(found = c), Wait);
        Assert.True(seen, $"The container of mount namespace {mountNs} is {found}. Log:{Environment.NewLine}{string.Join(Environment.NewLine, _logger.Messages)}");
        return found!;
    }

    private async Task WaitForWatchAsync()
    {
        Assert.True(Eventually.True(() => _stub.Requests.Any(r => r.Contains("watch=true", StringComparison.Ordinal)), Wait), "The source never watched.");
        await Task.Delay(200); // the watch is open on the server
    }

    private int Lists() => _stub.Requests.Count(r => r.StartsWith("GET /api/v1/pods?", StringComparison.Ordinal) && !r.Contains("watch=true", StringComparison.Ordinal));

    /// <summary>The log lines the source writes, for assertions.</summary>
    private sealed class RecordingLogger : ILogger
    {
        private readonly ConcurrentQueue<(LogLevel Level, string Message)> _lines = new();

        public List<string> Warnings => [.. _lines.Where(l => l.Level == LogLevel.Warning).Select(l => l.Message)];

        public List<string> Messages => [.. _lines.Select(l => $"{l.Level}: {l.Message}")];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => _lines.Enqueue((logLevel, formatter(state, exception)));
    }
}

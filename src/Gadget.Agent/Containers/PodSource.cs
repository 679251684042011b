using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Security.Authentication;
using System.Text.Json;

namespace Gadget.Agent.Containers;

/// <summary>
/// The pods of this node from the Kubernetes API, as the kubelet's own informers follow them: list
/// (<c>fieldSelector=spec.nodeName=NODE</c>), then watch from the list's resourceVersion, applying
/// ADDED, MODIFIED and DELETED to the collection and keeping BOOKMARKs' versions. A watch that ends
/// is resumed from the last version; one the server no longer has (410 Gone) is replaced by a
/// fresh list. An API that cannot be reached is warned of once per outage and retried with backoff;
/// meanwhile containers keep what the runtime says and the pods last seen.
/// </summary>
internal sealed class PodSource(ContainerCollection collection, KubeApiSettings settings, string nodeName, ILogger logger, PodSource.Backoff? backoff = null)
{
    /// <summary>How long the server keeps one watch open (client-go picks 5 to 10 minutes).</summary>
    private const int WatchSeconds = 300;

    /// <summary>A watch silent this long past its timeout is a dead connection.</summary>
    private static readonly TimeSpan WatchGrace = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan ListTimeout = TimeSpan.FromSeconds(30);

    private readonly Backoff _backoff = backoff ?? new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));
    private readonly string _pods = "api/v1/pods?fieldSelector=" + Uri.EscapeDataString("spec.nodeName=" + nodeName);
    private bool _unavailable;
    private TimeSpan _retry;

    /// <summary>The first wait after a failure, doubled after each further one up to <see cref="Max"/>.</summary>
    internal sealed record Backoff(TimeSpan First, TimeSpan Max);

    public async Task RunAsync(CancellationToken token)
    {
        KubeLog.Following(logger, settings.Server, nodeName);
        var api = new KubeApiConnection(settings);
        string? version = null;
        _retry = _backoff.First;
        try
        {
            while (!token.IsCancellationRequested)
            {
                try
                {
                    version ??= await ListAsync(api, token).ConfigureAwait(false);
                    version = await WatchAsync(api, version, token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    return;
                }
                catch (KubeApiException gone) when (gone.StatusCode == HttpStatusCode.Gone)
                {
                    version = null;
                }
                catch (Exception exception) when (exception is HttpRequestException or IOException or JsonException or KubeApiException or OperationCanceledException)
                {
                    // The version is kept: resuming the watch from it loses nothing, or answers 410.
                    collection.PodListFailed();
                    if (!_unavailable)
                    {
                        _unavailable = true;
                        KubeLog.ApiUnavailable(logger, settings.Server, nodeName, Reason(exception));
                    }

                    // The next attempt starts afresh: new connections, and ca.crt read again (it may have appeared or rotated).
                    api.Dispose();
                    api = new KubeApiConnection(settings);
                    try
                    {
                        await Task.Delay(_retry, token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }

                    _retry = TimeSpan.FromTicks(Math.Min(_retry.Ticks * 2, _backoff.Max.Ticks));
                }
            }
        }
        finally
        {
            api.Dispose();
        }
    }

    /// <summary>Lists the node's pods into the collection; returns the list's resourceVersion.</summary>
    private async Task<string> ListAsync(KubeApiConnection api, CancellationToken token)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
        timeout.CancelAfter(ListTimeout);
        using HttpResponseMessage response = await api.GetAsync(_pods, timeout.Token).ConfigureAwait(false);
        Answered();
        await using Stream body = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
        PodListDocument list = await JsonSerializer.DeserializeAsync(body, PodJsonContext.Default.PodListDocument, timeout.Token).ConfigureAwait(false)
            ?? throw new JsonException("The pod list is empty.");
        collection.ReplacePods((list.Items ?? []).Select(pod => pod.ToPod()));
        return list.Metadata?.ResourceVersion ?? throw new JsonException("The pod list has no resourceVersion.");
    }

    /// <summary>
    /// Follows one watch until the server ends it; returns the last version seen. Throws 410 Gone
    /// (as the server answers it, or as an ERROR event) when the version is too old to resume from.
    /// </summary>
    private async Task<string> WatchAsync(KubeApiConnection api, string version, CancellationToken token)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
        deadline.CancelAfter(TimeSpan.FromSeconds(WatchSeconds) + WatchGrace);
        using HttpResponseMessage response = await api.GetAsync(
            $"{_pods}&watch=true&resourceVersion={Uri.EscapeDataString(version)}&allowWatchBookmarks=true&timeoutSeconds={WatchSeconds}", deadline.Token).ConfigureAwait(false);
        Answered();
        PipeReader reader = PipeReader.Create(await response.Content.ReadAsStreamAsync(deadline.Token).ConfigureAwait(false));
        try
        {
            while (true)
            {
                ReadResult read = await reader.ReadAsync(deadline.Token).ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = read.Buffer;
                // One event per line.
                while (buffer.PositionOf((byte)'\n') is SequencePosition end)
                {
                    if (buffer.Slice(0, end) is { IsEmpty: false } line)
                    {
                        version = Apply(line, version);
                    }

                    buffer = buffer.Slice(buffer.GetPosition(1, end));
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
                if (read.IsCompleted)
                {
                    return version;
                }
            }
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Applies one watch event; returns the version to resume from.</summary>
    private string Apply(ReadOnlySequence<byte> line, string version)
    {
        var json = new Utf8JsonReader(line);
        WatchEventDocument? change = JsonSerializer.Deserialize(ref json, PodJsonContext.Default.WatchEventDocument);
        if (change is null)
        {
            return version;
        }

        if (change.Type == "ERROR")
        {
            StatusDocument status = change.Object.Deserialize(PodJsonContext.Default.StatusDocument) ?? new StatusDocument();
            throw new KubeApiException((HttpStatusCode)status.Code, status.Message ?? status.Reason ?? "the watch failed");
        }

        PodDocument pod = change.Object.Deserialize(PodJsonContext.Default.PodDocument) ?? new PodDocument();
        switch (change.Type)
        {
            case "ADDED" or "MODIFIED":
                collection.SetPod(pod.ToPod());
                break;
            case "DELETED":
                collection.RemovePod(pod.Metadata?.Uid ?? string.Empty);
                break;
        }

        // BOOKMARK carries only the version: resuming from it skips nothing this node cares about.
        return pod.Metadata?.ResourceVersion ?? version;
    }

    /// <summary>The API answered: the outage (if any) is over and the next failure waits the shortest time.</summary>
    private void Answered()
    {
        _retry = _backoff.First;
        if (_unavailable)
        {
            _unavailable = false;
            KubeLog.ApiReachable(logger, settings.Server, nodeName);
        }
    }

    /// <summary>The exception's message and, for TLS failures, the reason underneath.</summary>
    private static string Reason(Exception exception)
        => exception.InnerException is AuthenticationException or IOException or System.Net.Sockets.SocketException
            ? $"{exception.Message} {exception.InnerException.Message}"
            : exception.Message;
}

internal static partial class KubeLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Pods of node {Node}: following them at the Kubernetes API {Server}.")]
    public static partial void Following(ILogger logger, Uri server, string node);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pods of node {Node}: the Kubernetes API at {Server} is not available ({Reason}). Containers keep the pod fields their runtime gives; retrying.")]
    public static partial void ApiUnavailable(ILogger logger, Uri server, string node, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Pods of node {Node}: the Kubernetes API at {Server} answers again.")]
    public static partial void ApiReachable(ILogger logger, Uri server, string node);
}

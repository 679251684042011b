namespace Gadget.Kubernetes;

/// <summary>
/// Every request to the API server has a deadline: an API server (or a proxy in front of it) that
/// accepts the connection and never answers must not hold a command, or a runbook, forever.
/// </summary>
internal static class RequestDeadline
{
    public const string Variable = "GADGET_KUBE_REQUEST_TIMEOUT";

    /// <summary>How long one request may take, to its response's headers: 30 s, or $env:GADGET_KUBE_REQUEST_TIMEOUT seconds.</summary>
    public static TimeSpan Value =>
        double.TryParse(Environment.GetEnvironmentVariable(Variable), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double seconds) && seconds > 0
            ? TimeSpan.FromSeconds(Math.Min(seconds, 3600))
            : TimeSpan.FromSeconds(30);
}

/// <summary>Cancels a request whose response has not started within the deadline, as a <see cref="TimeoutException"/>.</summary>
internal sealed class RequestDeadlineHandler(TimeSpan deadline) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(deadline);
        try
        {
            return await base.SendAsync(request, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException exception) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"no answer within {deadline.TotalSeconds:0.#} s ({request.Method} {request.RequestUri?.AbsolutePath})", exception);
        }
    }
}

using System.Net.WebSockets;
using k8s;

namespace Gadget.Kubernetes;

/// <summary>
/// KubernetesClient's WebSocket builder, keeping the HTTP status of a refused upgrade (401, 403,
/// 404) as an <see cref="HttpRequestException"/>, so that it maps to the same errors as every
/// other API call instead of a bare "status code 403 when 101 was expected".
/// </summary>
internal sealed class StatusWebSocketBuilder : WebSocketBuilder
{
    public override async Task<WebSocket> BuildAndConnectAsync(Uri uri, CancellationToken cancellationToken)
    {
        Options.CollectHttpResponseDetails = true;
        try
        {
            return await base.BuildAndConnectAsync(uri, cancellationToken).ConfigureAwait(false);
        }
        catch (WebSocketException exception) when (WebSocket.HttpStatusCode is not 0 and not System.Net.HttpStatusCode.SwitchingProtocols)
        {
            throw new HttpRequestException(HttpRequestError.Unknown, exception.Message, exception, WebSocket.HttpStatusCode);
        }
    }
}

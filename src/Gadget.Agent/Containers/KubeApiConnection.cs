using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace Gadget.Agent.Containers;

/// <summary>Where the Kubernetes API is and how the agent proves who it is (see <see cref="AgentOptions"/>).</summary>
internal sealed record KubeApiSettings(Uri Server, string TokenFile, string CaFile);

/// <summary>
/// GET requests to the Kubernetes API with the service account's token. The token file is read
/// again every minute and after a 401, since projected tokens rotate. An HTTPS server must present
/// a certificate for its address that chains to the cluster's CA (ca.crt, read when this object is
/// made): that CA alone is trusted, never the system's store.
/// </summary>
internal sealed class KubeApiConnection : IDisposable
{
    private static readonly TimeSpan TokenLifetime = TimeSpan.FromMinutes(1);
    private readonly KubeApiSettings _settings;
    private readonly X509ChainPolicy? _clusterCa;
    private readonly HttpClient _http;
    private string? _token;
    private long _tokenReadAt;

    public KubeApiConnection(KubeApiSettings settings)
    {
        _settings = settings;
        var handler = new SocketsHttpHandler
        {
            // An address that does not answer fails in seconds, not after the kernel's SYN retries.
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        if (settings.Server.Scheme == Uri.UriSchemeHttps)
        {
            _clusterCa = ClusterCaPolicy(settings.CaFile);
            handler.SslOptions = new SslClientAuthenticationOptions { CertificateChainPolicy = _clusterCa };
        }

        _http = new HttpClient(handler) { BaseAddress = settings.Server, Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>Sends a GET; answers other than 2xx become <see cref="KubeApiException"/> with the server's message.</summary>
    public async Task<HttpResponseMessage> GetAsync(string pathAndQuery, CancellationToken token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, pathAndQuery);
        if (Token() is string bearer)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        HttpResponseMessage response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                _tokenReadAt = 0; // perhaps rotated since it was read
            }

            throw new KubeApiException(response.StatusCode, await MessageOfAsync(response, token).ConfigureAwait(false));
        }
    }

    public void Dispose()
    {
        _http.Dispose();
        foreach (X509Certificate2 authority in _clusterCa?.CustomTrustStore ?? [])
        {
            authority.Dispose();
        }
    }

    private string? Token()
    {
        if (_tokenReadAt == 0 || System.Diagnostics.Stopwatch.GetElapsedTime(_tokenReadAt) > TokenLifetime)
        {
            _token = File.Exists(_settings.TokenFile) ? File.ReadAllText(_settings.TokenFile).Trim() : null;
            _tokenReadAt = System.Diagnostics.Stopwatch.GetTimestamp();
        }

        return _token;
    }

    private static async Task<string> MessageOfAsync(HttpResponseMessage response, CancellationToken token)
    {
        try
        {
            StatusDocument? status = await response.Content.ReadFromJsonAsync(PodJsonContext.Default.StatusDocument, token).ConfigureAwait(false);
            if (status?.Message is { Length: > 0 } message)
            {
                return message;
            }
        }
        catch (Exception exception) when (exception is JsonException or NotSupportedException)
        {
            // Not a Status (a proxy's page): the status code says enough.
        }

        return $"{(int)response.StatusCode} {response.ReasonPhrase}";
    }

    /// <summary>Chains must end at the cluster's CA; without a readable ca.crt, nothing is trusted.</summary>
    private static X509ChainPolicy ClusterCaPolicy(string caFile)
    {
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        try
        {
            if (File.Exists(caFile))
            {
                policy.CustomTrustStore.ImportFromPemFile(caFile);
            }
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            policy.CustomTrustStore.Clear();
        }

        return policy;
    }
}

/// <summary>The Kubernetes API answered with an error status.</summary>
internal sealed class KubeApiException(HttpStatusCode statusCode, string message) : Exception(message)
{
    public HttpStatusCode StatusCode { get; } = statusCode;
}

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
/// a certificate the cluster's CA (ca.crt) signed for its address: that CA alone is trusted here,
/// never the system's store.
/// </summary>
internal sealed class KubeApiConnection : IDisposable
{
    private static readonly TimeSpan TokenLifetime = TimeSpan.FromMinutes(1);
    private readonly KubeApiSettings _settings;
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
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = TrustedByClusterCa },
        };
        _http = new HttpClient(handler) { BaseAddress = settings.Server, Timeout = Timeout.InfiniteTimeSpan };
    }

    public Uri Server => _settings.Server;

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

    public void Dispose() => _http.Dispose();

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

    private bool TrustedByClusterCa(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        // The name must match; the chain is judged below against the cluster's CA instead of the system's.
        if (certificate is not X509Certificate2 server || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None || !File.Exists(_settings.CaFile))
        {
            return false;
        }

        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPemFile(_settings.CaFile);
            using var clusterChain = new X509Chain();
            clusterChain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            clusterChain.ChainPolicy.CustomTrustStore.AddRange(authorities);
            clusterChain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            // What the server sent besides its own certificate: intermediates, perhaps.
            foreach (X509ChainElement element in chain?.ChainElements ?? (IEnumerable<X509ChainElement>)[])
            {
                clusterChain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }

            return clusterChain.Build(server);
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return false; // an unreadable ca.crt trusts nothing
        }
        finally
        {
            foreach (X509Certificate2 authority in authorities)
            {
                authority.Dispose();
            }
        }
    }
}

/// <summary>The Kubernetes API answered with an error status.</summary>
internal sealed class KubeApiException(HttpStatusCode statusCode, string message) : Exception(message)
{
    public HttpStatusCode StatusCode { get; } = statusCode;
}

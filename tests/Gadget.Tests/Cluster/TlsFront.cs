using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Gadget.Tests.Cluster;

/// <summary>
/// HTTPS in front of the stub API server, as a real API server serves it: a certificate for
/// 127.0.0.1 signed by a CA of this test's own (written to <see cref="CaFile"/>, like a service
/// account's ca.crt), each connection's plaintext forwarded to the stub.
/// </summary>
internal sealed class TlsFront : IDisposable
{
    private readonly Socket _listener;
    private readonly Uri _backend;
    private readonly X509Certificate2 _certificate;
    private readonly CancellationTokenSource _stop = new();
    private readonly string _directory = Directory.CreateTempSubdirectory("gadget-tls-").FullName;

    private TlsFront(Socket listener, Uri backend)
    {
        _listener = listener;
        _backend = backend;
        (X509Certificate2 authority, _certificate) = IssueServerCertificate();
        using (authority)
        {
            CaFile = Path.Combine(_directory, "ca.crt");
            File.WriteAllText(CaFile, authority.ExportCertificatePem());
        }

        _ = AcceptAsync();
    }

    /// <summary>The HTTPS address (https://127.0.0.1:PORT/).</summary>
    public Uri Url => new($"https://127.0.0.1:{((IPEndPoint)_listener.LocalEndPoint!).Port}/");

    /// <summary>The CA that signed the certificate, as PEM.</summary>
    public string CaFile { get; }

    /// <summary>Listens on 127.0.0.1 (a random port), or on <paramref name="listener"/>, bound and listening already.</summary>
    public static TlsFront Start(Uri backend, Socket? listener = null)
    {
        if (listener is null)
        {
            listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen();
        }

        return new TlsFront(listener, backend);
    }

    /// <summary>A PEM file with a CA that signed nothing here: trusting it alone must refuse this server.</summary>
    public string WriteUnrelatedCa()
    {
        (X509Certificate2 other, X509Certificate2 server) = IssueServerCertificate();
        using (other)
        using (server)
        {
            string path = Path.Combine(_directory, "other-ca.crt");
            File.WriteAllText(path, other.ExportCertificatePem());
            return path;
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
        _certificate.Dispose();
        _stop.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception exception) when (exception is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = ForwardAsync(client);
        }
    }

    private async Task ForwardAsync(Socket client)
    {
        try
        {
            using var tls = new SslStream(new NetworkStream(client, ownsSocket: true));
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = _certificate }, _stop.Token);
            using var backend = new TcpClient();
            await backend.ConnectAsync(_backend.Host, _backend.Port, _stop.Token);
            NetworkStream plain = backend.GetStream();
            await Task.WhenAny(tls.CopyToAsync(plain, _stop.Token), plain.CopyToAsync(tls, _stop.Token));
        }
        catch (Exception exception) when (exception is IOException or SocketException or OperationCanceledException or System.Security.Authentication.AuthenticationException or ObjectDisposedException)
        {
            // The client refused the certificate, or either side went away.
        }
    }

    /// <summary>A CA and a server certificate it signed for 127.0.0.1 (and the in-cluster name), with its key.</summary>
    private static (X509Certificate2 Authority, X509Certificate2 Server) IssueServerCertificate()
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        using ECDsa authorityKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var authorityRequest = new CertificateRequest("CN=gadget-test-ca", authorityKey, HashAlgorithmName.SHA256);
        authorityRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        authorityRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        authorityRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(authorityRequest.PublicKey, false));
        X509Certificate2 authority = authorityRequest.CreateSelfSigned(now.AddHours(-1), now.AddDays(1));

        using ECDsa serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var serverRequest = new CertificateRequest("CN=kube-apiserver", serverKey, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("kubernetes.default.svc");
        serverRequest.CertificateExtensions.Add(names.Build());
        serverRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        serverRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, true, false));
        using X509Certificate2 signed = serverRequest.Create(authority, now.AddHours(-1), now.AddDays(1), RandomNumberGenerator.GetBytes(8));
        return (authority, signed.CopyWithPrivateKey(serverKey));
    }
}

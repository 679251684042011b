using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Gadget.KubeStub;
using Gadget.Kubernetes;
using Xunit;

namespace Gadget.Tests.Cluster;

/// <summary>Where a cluster's credentials come from, what a broken kubeconfig gives, and that no error repeats a secret.</summary>
public sealed class KubeConfigSourceTests : IAsyncLifetime
{
    private const string Secret = "s3cr3t-t0ken-that-must-never-show";

    private KubeApiStub _stub = null!;

    public async Task InitializeAsync() => _stub = await KubeApiStub.StartAsync();

    public async Task DisposeAsync() => await _stub.DisposeAsync();

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private static GadgetException OpenFails(KubeConfigSource source)
        => Assert.Throws<GadgetException>(() => KubeCluster.Open(source).Dispose());

    private static void AssertNoSecret(GadgetException exception, KubeConfigSource source, string secret = Secret)
    {
        for (Exception? current = exception; current is not null; current = current.InnerException)
        {
            Assert.DoesNotContain(secret, current.Message, StringComparison.Ordinal);
        }

        Assert.DoesNotContain(secret, exception.RecommendedAction ?? string.Empty, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, source.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AKubeConfigGivenAsBase64OnOneLineIsContent()
    {
        var source = new KubeConfigSource { KubeConfig = Base64(_stub.KubeConfig("from-base64")) };
        using KubeCluster cluster = KubeCluster.Open(source);
        Assert.Equal("from-base64", cluster.ContextNamespace);
        Assert.Null(await cluster.FindInstallNamespaceAsync(CancellationToken.None));
        Assert.Equal("-KubeConfig (content)", source.Description);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("garbage")]
    [InlineData("{ not: [json")]
    [InlineData("apiVersion: v1\nkind: Config\n")]
    [InlineData("- a\n- list")]
    public void EmptyOrGarbageContentIsKubeConfigInvalidWithTheParsersReason(string content)
    {
        var source = new KubeConfigSource { KubeConfig = content.Length == 0 ? " " : content };
        GadgetException exception = OpenFails(source);
        Assert.Equal(GadgetErrorId.KubeConfigInvalid, exception.ErrorId);
        Assert.Equal(GadgetErrorKind.InvalidArgument, exception.Kind);
        Assert.StartsWith("-KubeConfig (content)", exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n\n")]
    [InlineData("garbage: [")]
    [InlineData("just a line")]
    public void AnEmptyOrGarbageFileIsKubeConfigInvalid(string text)
    {
        string path = Path.Combine(Path.GetTempPath(), $"gadget-kubeconfig-{Guid.NewGuid():N}");
        File.WriteAllText(path, text);
        try
        {
            GadgetException exception = OpenFails(new KubeConfigSource { KubeConfig = path });
            Assert.Equal(GadgetErrorId.KubeConfigInvalid, exception.ErrorId);
            Assert.Contains(path, exception.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("Object reference", exception.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void SingleLineContentWithATokenIsNeverRepeated()
    {
        string[] values =
        [
            Base64($"users:\n- name: u\n  user:\n    token: {Secret}\n"),        // a kubeconfig without contexts
            Base64($"token: {Secret} and then not YAML: [\n"),                      // base64 of garbage
            $"{Secret}",                                                              // a bare token
            $"{{\"users\": [{{\"name\": \"u\", \"user\": {{\"token\": \"{Secret}\"",  // truncated JSON
            $"apiVersion: v1 kind: Config token: {Secret}",                           // YAML flattened onto one line
        ];
        foreach (string value in values)
        {
            var source = new KubeConfigSource { KubeConfig = value };
            GadgetException exception = OpenFails(source);
            Assert.Equal(GadgetErrorId.KubeConfigInvalid, exception.ErrorId);
            AssertNoSecret(exception, source);
        }
    }

    [Fact]
    public void AMissingFileIsNamedOnlyWhenTheValueIsShapedLikeAPath()
    {
        var missing = new KubeConfigSource { KubeConfig = "/nonexistent/kubeconfig" };
        GadgetException exception = OpenFails(missing);
        Assert.Equal(GadgetErrorId.KubeConfigNotFound, exception.ErrorId);
        Assert.Contains("/nonexistent/kubeconfig", exception.Message, StringComparison.Ordinal);
        Assert.Equal("/nonexistent/kubeconfig", missing.Description);

        Assert.True(KubeConfigSource.LooksLikePath("./kube.yaml"));
        Assert.True(KubeConfigSource.LooksLikePath("~/.kube/config"));
        Assert.True(KubeConfigSource.LooksLikePath(@"C:\Users\me\.kube\config"));
        Assert.False(KubeConfigSource.LooksLikePath("kube config"));
        Assert.False(KubeConfigSource.LooksLikePath(Secret));
    }

    [Fact]
    public void AnExecPluginThatIsNotOnPathIsNamedAndTheTokenRouteOffered()
    {
        string kubeconfig = _stub.KubeConfig().Replace($"    token: {KubeApiStub.Token}", """
                exec:
                  apiVersion: client.authentication.k8s.io/v1beta1
                  command: kubelogin-not-installed
                  args: [get-token, --login, msi]
            """.TrimEnd(), StringComparison.Ordinal);
        Assert.Contains("kubelogin-not-installed", kubeconfig, StringComparison.Ordinal);
        GadgetException exception = OpenFails(new KubeConfigSource { KubeConfig = kubeconfig });
        Assert.Equal(GadgetErrorId.KubeCredentialPluginNotFound, exception.ErrorId);
        Assert.Equal(GadgetErrorKind.NotSupported, exception.Kind);
        Assert.Contains("'kubelogin-not-installed'", exception.Message, StringComparison.Ordinal);
        Assert.Contains("-Token", exception.RecommendedAction, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AServerWithATokenAndItsCaNeedsNoKubeConfig()
    {
        using var https = TlsFront.Start(_stub.Url);
        string pem = File.ReadAllText(https.CaFile);
        foreach (string authority in new[] { https.CaFile, pem, Base64(pem) })
        {
            var source = new KubeConfigSource { Server = https.Url, Token = KubeApiStub.Token, CertificateAuthority = authority };
            using KubeCluster cluster = KubeCluster.Open(source);
            Assert.Null(await cluster.FindInstallNamespaceAsync(CancellationToken.None));
            Assert.DoesNotContain(KubeApiStub.Token, source.Description, StringComparison.Ordinal);
        }

        // Another CA: the server is not trusted. A wrong token: 401, and the token is not in the message.
        using (KubeCluster untrusted = KubeCluster.Open(new KubeConfigSource { Server = https.Url, Token = KubeApiStub.Token, CertificateAuthority = https.WriteUnrelatedCa() }))
        {
            var refused = await Assert.ThrowsAsync<GadgetException>(() => untrusted.FindInstallNamespaceAsync(CancellationToken.None));
            Assert.Equal(GadgetErrorId.KubeRequestFailed, refused.ErrorId);
        }

        using KubeCluster wrongToken = KubeCluster.Open(new KubeConfigSource { Server = https.Url, Token = Secret, CertificateAuthority = https.CaFile });
        var unauthorized = await Assert.ThrowsAsync<GadgetException>(() => wrongToken.FindInstallNamespaceAsync(CancellationToken.None));
        Assert.Equal(GadgetErrorId.KubeUnauthorized, unauthorized.ErrorId);
        Assert.DoesNotContain(Secret, unauthorized.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ATokenWithoutAServerIsRefused()
    {
        GadgetException exception = OpenFails(new KubeConfigSource { Token = Secret });
        Assert.Equal(GadgetErrorId.KubeConfigInvalid, exception.ErrorId);
        AssertNoSecret(exception, new KubeConfigSource { Token = Secret });
        Assert.Equal(GadgetErrorId.KubeConfigInvalid, OpenFails(new KubeConfigSource { Server = new Uri("ftp://example/"), Token = Secret }).ErrorId);
    }

    [Fact]
    public async Task AnApiServerThatAcceptsAndNeverAnswersTimesOut()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var accepted = new List<Socket>();
        using var stop = new CancellationTokenSource();
        Task accepting = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                accepted.Add(await silent.AcceptSocketAsync(stop.Token));
            }
        });
        try
        {
            var server = new Uri($"https://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}");
            using KubeCluster cluster = KubeCluster.Open(new KubeConfigSource { Server = server, Token = Secret }, TimeSpan.FromSeconds(2));
            var watch = Stopwatch.StartNew();
            var exception = await Assert.ThrowsAsync<GadgetException>(() => cluster.FindInstallNamespaceAsync(CancellationToken.None));
            Assert.Equal(GadgetErrorId.KubeRequestTimeout, exception.ErrorId);
            Assert.Equal(GadgetErrorKind.Timeout, exception.Kind);
            Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(10));

            // The port-forward's WebSocket upgrade has the same deadline.
            var pod = new AgentPod(new k8s.Models.V1Pod { Metadata = new() { Name = "agent", NamespaceProperty = "gadget" } });
            watch.Restart();
            var forward = await Assert.ThrowsAsync<GadgetException>(async () => await cluster.PortForwardAsync(pod, CancellationToken.None));
            Assert.Equal(GadgetErrorId.KubeRequestTimeout, forward.ErrorId);
            Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(10));

            // The caller's own cancellation stays a cancellation.
            using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cluster.FindInstallNamespaceAsync(cancel.Token));
        }
        finally
        {
            await stop.CancelAsync();
            silent.Stop();
            await Task.WhenAny(accepting);
            accepted.ForEach(s => s.Dispose());
        }
    }
}

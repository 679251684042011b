#Requires -Version 7.6
# Tab completion through the built module, as a user's shell asks for it (TabExpansion2): gadget
# names from the catalog, contexts from the kubeconfig, and names from a cluster or an agent that
# cannot be reached: nothing, quickly, and no file names in their place.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeAll {
    Import-Module (Join-Path $ModulePath 'Gadget.psd1') -Force
    $script:Work = Join-Path ([IO.Path]::GetTempPath()) "gadget-completion-$([Guid]::NewGuid().ToString('N'))"
    $null = New-Item -ItemType Directory $Work
    # Files a file-name completion would offer.
    $null = New-Item -ItemType File (Join-Path $Work 'default-file.txt'), (Join-Path $Work 'kube-file.txt')
    $script:KubeConfig = Join-Path $Work 'kubeconfig'
    @'
apiVersion: v1
kind: Config
clusters:
- name: nowhere
  cluster:
    server: https://127.0.21.9:6443
    insecure-skip-tls-verify: true
users:
- name: someone
  user:
    token: not-a-real-token
contexts:
- name: kind-dev
  context: { cluster: nowhere, user: someone, namespace: web }
- name: kind-prod
  context: { cluster: nowhere, user: someone }
- name: other
  context: { cluster: nowhere, user: someone }
current-context: kind-dev
'@ | Set-Content $KubeConfig

    function Get-Completion([string] $Line) {
        Push-Location $Work
        try { @((TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches | ForEach-Object CompletionText) }
        finally { Pop-Location }
    }
}

AfterAll {
    Remove-Item $script:Work -Recurse -Force -ErrorAction Ignore
}

Describe 'Completion' {
    It '-Gadget offers the catalog''s gadgets and no diagnostic one' {
        $names = Get-Completion 'Start-GadgetTrace -Local -Gadget '
        $names | Should -Contain 'dns'
        $names | Should -Contain 'exec'
        $names | Should -Contain 'open'
        $names | Should -Not -Contain 'flood'
        Get-Completion 'Start-GadgetTrace -Gadget d' | Should -Be @('dns')
    }

    It '-Context offers the kubeconfig''s contexts' {
        Get-Completion "Trace-GadgetExec -KubeConfig $KubeConfig -Context kind" | Should -Be @('kind-dev', 'kind-prod')
        Get-Completion "Get-GadgetContainer -KubeConfig $KubeConfig -Context " | Should -Be @('kind-dev', 'kind-prod', 'other')
    }

    It 'offers nothing, within the timeout, for <Parameter> when the cluster cannot be reached' -ForEach @(
        @{ Parameter = 'Namespace'; Line = 'Trace-GadgetDns -KubeConfig {0} -Namespace ' },
        @{ Parameter = 'Pod'; Line = 'Trace-GadgetOpen -KubeConfig {0} -Pod ' },
        @{ Parameter = 'Container'; Line = 'Trace-GadgetExec -KubeConfig {0} -Container ' },
        @{ Parameter = 'Node'; Line = 'Trace-GadgetExec -KubeConfig {0} -Node ' },
        @{ Parameter = 'Install-Gadget -Namespace'; Line = 'Install-Gadget -KubeConfig {0} -Namespace ' }) {
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $names = Get-Completion ($Line -f $KubeConfig)
        $watch.Stop()
        $names | Should -BeNullOrEmpty
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 5
    }

    It 'offers nothing for -Local -<_> when no agent runs on this host' -ForEach @('Namespace', 'Pod', 'Container') {
        $saved = $env:GADGET_AGENT_SOCKET
        $env:GADGET_AGENT_SOCKET = Join-Path $Work 'no-agent.sock'
        try {
            Get-Completion "Trace-GadgetExec -Local -$_ " | Should -BeNullOrEmpty
        }
        finally {
            $env:GADGET_AGENT_SOCKET = $saved
        }
    }
}

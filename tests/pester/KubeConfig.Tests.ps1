#Requires -Version 7.6
# Broken kubeconfigs, given as a path, as content or through $env:KUBECONFIG: each is an error with
# a stable id and the parser's reason, and no error repeats a kubeconfig's content or a token.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeDiscovery {
    $secret = 'tok-3f9a1c7e5b2d4f60-never-shown'
    $script:ContentCases = @(
        @{ Name = 'as base64 on one line'; Value = [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes("users:`n- name: u`n  user:`n    token: $secret`n")) }
        @{ Name = 'as a bare token'; Value = $secret }
        @{ Name = 'as YAML flattened onto one line'; Value = "apiVersion: v1 kind: Config token: $secret" }
        @{ Name = 'as white space'; Value = '   ' }
    )
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    Import-Module (Join-Path $ModulePath 'Gadget.psd1') -Force
    $script:SavedKubeConfig = $env:KUBECONFIG
    $script:Directory = New-TestDirectory 'gadget-kubeconfig'
    $script:Secret = 'tok-3f9a1c7e5b2d4f60-never-shown'

    function Get-GadgetError {
        # Runs Get-GadgetVersion with $Arguments; returns the terminating ErrorRecord.
        param([hashtable] $Arguments = @{})
        try { Get-GadgetVersion @Arguments -ErrorAction Stop; $null } catch { $_ }
    }

    function Test-NoSecret {
        param($Record)
        $texts = @($Record.Exception.Message, "$($Record.TargetObject)", "$($Record.Exception.InnerException)")
        if ($Record.ErrorDetails) { $texts += $Record.ErrorDetails.Message, $Record.ErrorDetails.RecommendedAction }
        foreach ($text in $texts) {
            $text | Should -Not -Match ([regex]::Escape($Secret))
        }
    }

    $script:Empty = Join-Path $Directory 'empty'
    Set-Content $Empty '' -NoNewline
    $script:Garbage = Join-Path $Directory 'garbage'
    Set-Content $Garbage "token: $Secret`n- not: [a kubeconfig"
    $script:Base64WithToken = [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes("users:`n- name: u`n  user:`n    token: $Secret`n"))
}

AfterAll {
    $env:KUBECONFIG = $SavedKubeConfig
    Remove-Item $Directory -Recurse -Force -ErrorAction Ignore
}

Describe 'A broken kubeconfig' {
    AfterEach { $env:KUBECONFIG = $null }

    It 'an empty file given as -KubeConfig is KubeConfigInvalid, never a NullReferenceException' {
        $record = Get-GadgetError @{ KubeConfig = $Empty }
        $record.FullyQualifiedErrorId | Should -BeExactly 'KubeConfigInvalid,Gadget.Commands.GetGadgetVersionCommand'
        $record.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $record.TargetObject | Should -BeExactly $Empty
        $record.Exception.Message | Should -BeLike '*is empty*'
    }

    It 'an empty file in $env:KUBECONFIG is KubeConfigInvalid, naming the file' {
        $env:KUBECONFIG = $Empty
        $record = Get-GadgetError
        $record.FullyQualifiedErrorId | Should -BeExactly 'KubeConfigInvalid,Gadget.Commands.GetGadgetVersionCommand'
        $record.TargetObject | Should -BeExactly $Empty
    }

    It 'a garbage file in $env:KUBECONFIG gives the parser''s reason and not the file''s token' {
        $env:KUBECONFIG = $Garbage
        $record = Get-GadgetError
        $record.FullyQualifiedErrorId | Should -BeExactly 'KubeConfigInvalid,Gadget.Commands.GetGadgetVersionCommand'
        $record.Exception.Message | Should -Match 'is not a kubeconfig: .*(Line|line|expected|Expected)'
        Test-NoSecret $record
    }

    It 'content in $env:KUBECONFIG, which holds paths, is refused without being repeated' {
        $env:KUBECONFIG = $Base64WithToken
        $record = Get-GadgetError
        $record.FullyQualifiedErrorId | Should -BeExactly 'KubeConfigInvalid,Gadget.Commands.GetGadgetVersionCommand'
        Test-NoSecret $record
    }

    It '-KubeConfig content <Name> is KubeConfigInvalid, and its token appears nowhere' -ForEach $ContentCases {
        $record = Get-GadgetError @{ KubeConfig = $Value }
        $record.FullyQualifiedErrorId | Should -BeExactly 'KubeConfigInvalid,Gadget.Commands.GetGadgetVersionCommand'
        $record.TargetObject | Should -BeExactly '-KubeConfig (content)'
        Test-NoSecret $record
    }

    It 'a missing file is named when the value is shaped like a path' {
        $record = Get-GadgetError @{ KubeConfig = (Join-Path $Directory 'missing') }
        $record.FullyQualifiedErrorId | Should -BeExactly 'KubeConfigNotFound,Gadget.Commands.GetGadgetVersionCommand'
        $record.TargetObject | Should -BeExactly (Join-Path $Directory 'missing')
    }

    It 'an exec credential plugin that is not on PATH is named, and the token route offered' {
        $kubeconfig = @"
apiVersion: v1
kind: Config
clusters: [ { name: c, cluster: { server: "https://127.0.0.1:1" } } ]
users: [ { name: entra, user: { exec: { apiVersion: client.authentication.k8s.io/v1beta1, command: kubelogin-absent, args: [get-token] } } } ]
contexts: [ { name: c, context: { cluster: c, user: entra } } ]
current-context: c
"@
        $record = Get-GadgetError @{ KubeConfig = $kubeconfig }
        $record.FullyQualifiedErrorId | Should -BeExactly 'KubeCredentialPluginNotFound,Gadget.Commands.GetGadgetVersionCommand'
        $record.CategoryInfo.Category | Should -Be 'NotInstalled'
        $record.Exception.Message | Should -BeLike "*'kubelogin-absent'*"
        $record.ErrorDetails.RecommendedAction | Should -BeLike '*-Server, -Token and -CertificateAuthority*'
    }

    It '-Server with -KubeConfig is refused: they are two ways to reach a cluster' {
        $record = Get-GadgetError @{ Server = 'https://127.0.0.1:1'; Token = (ConvertTo-SecureString $Secret -AsPlainText -Force); KubeConfig = $Empty }
        $record.FullyQualifiedErrorId | Should -BeExactly 'KubeConfigInvalid,Gadget.Commands.GetGadgetVersionCommand'
        Test-NoSecret $record
    }

    It '-Token takes a SecureString or a string, and never shows it in an error' {
        foreach ($token in (ConvertTo-SecureString $Secret -AsPlainText -Force), $Secret) {
            $record = Get-GadgetError @{ Server = 'https://127.0.0.1:1'; Token = $token }
            $record.FullyQualifiedErrorId | Should -BeExactly 'KubeRequestFailed,Gadget.Commands.GetGadgetVersionCommand'
            $record.TargetObject | Should -BeExactly 'https://127.0.0.1:1'
            Test-NoSecret $record
        }
    }
}

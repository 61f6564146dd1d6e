# frozen_string_literal: true

require_relative 'lib/async_task_cluster/version'

Gem::Specification.new do |spec|
  spec.name          = 'async_task_cluster'
  spec.version       = AsyncTaskCluster::VERSION
  spec.authors       = ['AsyncTask contributors']
  spec.summary       = 'Producer library for the AsyncTask worker cluster, with the async_task gem\'s ActiveRecord API.'
  spec.description   = <<~TEXT
    Attempts are rows written inside the application's own transaction (a transactional outbox); the AsyncTask
    cluster (Swift worker nodes) executes them. This gem keeps the async_task gem's model API
    (AsyncTask::Attempt.create!, scopes, predicates, expire!/fail!) on the cluster's schema, encrypts arguments
    in the cluster's v1 envelope, and verifies the cluster's signed failure webhooks.
  TEXT
  spec.license       = 'Apache-2.0'
  spec.files         = Dir['lib/**/*.rb'] + ['async_task_cluster.gemspec']
  spec.require_paths = ['lib']
  # 3.0: the code uses endless method definitions and OpenSSL.fixed_length_secure_compare (openssl gem 2.2).
  spec.required_ruby_version = '>= 3.0'

  spec.add_runtime_dependency 'activerecord', '>= 6.0'
  spec.add_runtime_dependency 'activesupport', '>= 6.0'
  spec.add_runtime_dependency 'pg', '>= 1.1'
end

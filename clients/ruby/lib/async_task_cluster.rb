# frozen_string_literal: true

require 'json'
require 'active_record'
require 'active_support'
require 'active_support/core_ext'

require 'async_task_cluster/version'
require 'async_task_cluster/errors'
require 'async_task_cluster/arguments'
require 'async_task_cluster/aes_gcm_encryptor'
require 'async_task_cluster/base_attempt'
require 'async_task_cluster/webhook'
require 'async_task_cluster/gem_compat'

# Producer side of the AsyncTask cluster for Rails applications.
#
#   AsyncTaskCluster.encryptor = AsyncTaskCluster::AesGcmEncryptor.new(primary: 'k2', keys: { 'k2' => ENV['K2'] })
#
# The encryptor is optional: without one, arguments are stored as plain JSON.
module AsyncTaskCluster
  class << self
    # The encryptor new attempts are sealed with (nil: plaintext JSON). A model may set its own through the
    # class attribute `async_task_encryptor`.
    attr_accessor :encryptor
  end
end

# frozen_string_literal: true

# The async_task gem's constant names, so an application's model (`include AsyncTask::BaseAttempt`) and rescue
# clauses keep working after its Gemfile swaps the gem for this one. Defined only when the gem is not loaded.
module AsyncTask
  BaseAttempt = AsyncTaskCluster::BaseAttempt unless const_defined?(:BaseAttempt, false)
  InvalidStateError = AsyncTaskCluster::InvalidStateError unless const_defined?(:InvalidStateError, false)

  # The gem's default encryptor, for code that names it; the cluster stores plaintext arguments as JSON.
  unless const_defined?(:NullEncryptor, false)
    module NullEncryptor
      module_function

      def encrypt(content) = content
      def decrypt(content) = content
    end
  end
end
